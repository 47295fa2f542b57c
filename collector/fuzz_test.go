package collector

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// replyCaller answers every call with the same decoded reply.
type replyCaller struct{ vals []binrpc.Value }

func (r replyCaller) Call(context.Context, string, ...any) ([]binrpc.Value, error) {
	return r.vals, nil
}

// sinkCollector exposes a sink's samples to a registry.
type sinkCollector struct{ s *Sink }

func (c sinkCollector) Describe(chan<- *prometheus.Desc) {}
func (c sinkCollector) Collect(ch chan<- prometheus.Metric) {
	for _, smp := range c.s.samples {
		ch <- smp
	}
}

// FuzzCollectors feeds arbitrary replies to every collector, called
// directly (without the framework's recover): none panics, and whatever a
// collector accepts gathers into a valid exposition (no duplicate series,
// valid names and label values).
func FuzzCollectors(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(recordingsDir, "*.bin"))
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
		for _, c := range registry {
			out := newSink(promslog.NewNopLogger(), nil)
			s := newSink(promslog.NewNopLogger(), nil)
			if err := c.update(context.Background(), replyCaller{vals}, &testSettings, s); err != nil {
				continue
			}
			out.merge(s, map[string]*Desc{})
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(sinkCollector{out})
			if _, err := reg.Gather(); err != nil {
				t.Fatalf("collector %s: %v", c.name, err)
			}
		}
	})
}
