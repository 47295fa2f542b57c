package collector

import (
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// tm.stats sends its unsigned counters as 32-bit ints: past 2^31 they
// arrive negative and are read back as unsigned. The recorded reply, with
// "total" and "2xx" as a busy proxy sends them.
func TestTMStatsCountersUnsigned(t *testing.T) {
	vals, err := binrpc.DecodePayload(loadRecordings(t)["tm.stats"].Payload)
	if err != nil || len(vals) != 1 {
		t.Fatalf("tm.stats recording: %v %v", vals, err)
	}
	st := vals[0]
	for i, m := range st.Members {
		switch m.Name {
		case "total":
			st.Members[i].Value = binrpc.Int(-2147483000) // 2147484296
		case "2xx":
			st.Members[i].Value = binrpc.Int(-1) // 4294967295
		}
	}
	fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"tm.stats": {Values: []binrpc.Value{st}},
	}), 5*time.Second))
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kamailio_tm_stats_total", nil, 2147484296},
		{"kamailio_tm_stats_codes_total", map[string]string{"code": "2xx"}, 4294967295},
		{"kamailio_tm_stats_current", nil, 1},
	} {
		if v, ok := sampleValue(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v %v, want %v", c.name, c.labels, v, ok, c.want)
		}
	}
}
