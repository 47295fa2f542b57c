package collector

import (
	"fmt"
	"testing"
)

// sl.stats: one counter per reply code or class; every release answers
// alike (5.5.4 and 5.7.4 were recorded after more keepalive OPTIONS, which
// sl answers with a 200).
func TestSLStats(t *testing.T) {
	sent200 := map[string]string{"5.5.4": "19", "5.7.4": "20"}
	const want = `
# HELP kamailio_sl_stats_codes_total Per-code counters.
# TYPE kamailio_sl_stats_codes_total counter
kamailio_sl_stats_codes_total{code="200"} %s
kamailio_sl_stats_codes_total{code="202"} 0
kamailio_sl_stats_codes_total{code="2xx"} 0
kamailio_sl_stats_codes_total{code="300"} 0
kamailio_sl_stats_codes_total{code="301"} 0
kamailio_sl_stats_codes_total{code="302"} 0
kamailio_sl_stats_codes_total{code="3xx"} 0
kamailio_sl_stats_codes_total{code="400"} 0
kamailio_sl_stats_codes_total{code="401"} 0
kamailio_sl_stats_codes_total{code="403"} 0
kamailio_sl_stats_codes_total{code="404"} 0
kamailio_sl_stats_codes_total{code="407"} 0
kamailio_sl_stats_codes_total{code="408"} 0
kamailio_sl_stats_codes_total{code="483"} 0
kamailio_sl_stats_codes_total{code="4xx"} 0
kamailio_sl_stats_codes_total{code="500"} 0
kamailio_sl_stats_codes_total{code="5xx"} 0
kamailio_sl_stats_codes_total{code="6xx"} 0
kamailio_sl_stats_codes_total{code="xxx"} 0
`
	eachRelease(t, func(t *testing.T, release string) {
		n, ok := sent200[release]
		if !ok {
			n = "6"
		}
		compareCollector(t, release, "sl.stats", fmt.Sprintf(want, n))
	})
}
