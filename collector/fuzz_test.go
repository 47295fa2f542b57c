package collector

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// replyCaller answers every call with the same reply: decoded, or with
// its top-level containers encoded.
type replyCaller struct{ vals, encoded []binrpc.Value }

func (r replyCaller) Call(context.Context, string, ...any) ([]binrpc.Value, error) {
	return r.vals, nil
}

func (r replyCaller) CallEncoded(context.Context, string, ...any) ([]binrpc.Value, error) {
	return r.encoded, nil
}

// FuzzCollectors feeds arbitrary replies to every collector, called
// directly (without the framework's recover): none panics, and whatever a
// collector accepts gathers into a valid exposition (no duplicate series,
// valid names and label values), written alike by the page and by
// client_golang.
func FuzzCollectors(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(recordingsDir, "*", "*.bin"))
	for _, file := range files {
		if r, err := fakectl.ReadRecording(file); err == nil {
			f.Add(r.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		vals, err := binrpc.DecodePayload(payload)
		if err != nil {
			return
		}
		encoded, err := binrpc.DecodeEncoded(payload)
		if err != nil {
			t.Fatalf("DecodeEncoded refused what DecodePayload accepted: %v", err)
		}
		for _, c := range collectors {
			s := newSink(promslog.NewNopLogger(), nil)
			if err := c.update(context.Background(), replyCaller{vals, encoded}, &testSettings, s); err != nil {
				continue
			}
			s.out.Finish()
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(pageCollector{s.out})
			if _, err := reg.Gather(); err != nil {
				t.Fatalf("collector %s: %v", c.name, err)
			}
			// What is served, text and protobuf, is what the registry gives.
			none := prometheus.NewRegistry()
			want := registryText(t, s.out, none)
			if pageText(t, s.out, none, nil) != want {
				t.Fatalf("collector %s: the text page differs from the registry's", c.name)
			}
			if gatheredText(t, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return s.out.Families(), nil })) != want {
				t.Fatalf("collector %s: the page's families differ from the registry's", c.name)
			}
		}
	})
}
