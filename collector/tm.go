package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	tmCodesDesc = newDesc(namespace+"_tm_stats_codes_total", "Per-code counters.", prometheus.CounterValue, "code")

	tmFields = []field{
		{"current", newDesc(namespace+"_tm_stats_current", "Current transactions.", prometheus.GaugeValue)},
		{"waiting", newDesc(namespace+"_tm_stats_waiting", "Waiting transactions.", prometheus.GaugeValue)},
		{"total", newDesc(namespace+"_tm_stats_total", "Total transactions.", prometheus.CounterValue)},
		{"total_local", newDesc(namespace+"_tm_stats_local_total", "Total local transactions.", prometheus.CounterValue)},
		{"rpl_received", newDesc(namespace+"_tm_stats_rpl_received_total", "Number of reply received.", prometheus.CounterValue)},
		{"rpl_generated", newDesc(namespace+"_tm_stats_rpl_generated_total", "Number of reply generated.", prometheus.CounterValue)},
		{"rpl_sent", newDesc(namespace+"_tm_stats_rpl_sent_total", "Number of reply sent.", prometheus.CounterValue)},
		{"created", newDesc(namespace+"_tm_stats_created_total", "Created transactions.", prometheus.CounterValue)},
		{"freed", newDesc(namespace+"_tm_stats_freed_total", "Freed transactions.", prometheus.CounterValue)},
		{"delayed_free", newDesc(namespace+"_tm_stats_delayed_free_total", "Delayed free transactions.", prometheus.CounterValue)},
	}
)

// tm.stats: struct {current, waiting, total, total_local, rpl_received,
// rpl_generated, rpl_sent, 6xx…2xx, created, freed, delayed_free}.
func updateTMStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "tm.stats")
	if err != nil {
		return err
	}
	if err := addCodes(s, "tm.stats", st, tmCodesDesc); err != nil {
		return err
	}
	if err := addFields(s, st, tmFields); err != nil {
		return fmt.Errorf("tm.stats: %w", err)
	}
	return nil
}
