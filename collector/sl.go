package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

var slCodesDesc = newDesc(namespace+"_sl_stats_codes_total", "Per-code counters.", prometheus.CounterValue, "code")

// sl.stats: struct code → count ("200", "2xx", …, "xxx").
func updateSLStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "sl.stats")
	if err != nil {
		return err
	}
	return addCodes(s, "sl.stats", st, slCodesDesc)
}
