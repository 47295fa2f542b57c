package collector

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// Scripted statistics: names lower-cased and sanitised, typed by suffix,
// never colliding with a static family, never duplicated.
func TestScriptedStatistics(t *testing.T) {
	stats := binrpc.Struct(
		binrpc.Named("script.my_calls_total", binrpc.String("7")),
		binrpc.Named("script.Active-Widgets", binrpc.String("3")),
		binrpc.Named("script.active_widgets", binrpc.String("4")),
		binrpc.Named("script.tcp_readers", binrpc.String("99")),
		binrpc.Named("script.up", binrpc.String("5")),
		binrpc.Named("script.big", binrpc.String("18446744073709551615")),
		binrpc.Named("core.rcv_requests_invite", binrpc.String("12")),
	)
	e := newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"stats.fetch_all": {Values: []binrpc.Value{stats}},
	}), 5*time.Second)
	fams := gather(t, e) // a pedantic registry: duplicates or bad names fail here
	for name, want := range map[string]float64{"kamailio_my_calls_total": 7, "kamailio_active_widgets": 3, "kamailio_big": 18446744073709551615} {
		if v, ok := sampleValue(fams, name, nil); !ok || v != want {
			t.Errorf("%s = %v %v, want %v", name, v, ok, want)
		}
	}
	if v, _ := sampleValue(fams, "kamailio_up", nil); v != 1 {
		t.Errorf("script.up overrode kamailio_up: %v", v)
	}
	if v, _ := sampleValue(fams, "kamailio_tcp_readers", nil); v == 99 {
		t.Errorf("script.tcp_readers overrode kamailio_tcp_readers")
	}
	for _, f := range fams {
		if f.GetName() == "kamailio_my_calls_total" && f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("my_calls_total type %v", f.GetType())
		}
		if f.GetName() == "kamailio_active_widgets" && f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("active_widgets type %v", f.GetType())
		}
	}
}
