package collector

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

var buildInfoDesc = newDesc(namespace+"_build_info",
	"Kamailio's version and build, from core.info; constant 1.", prometheus.GaugeValue,
	"version", "sourceid", "compiler", "compiled", "flags")

// core.info: {version, id, compiler, compiled, flags}.
func updateCoreInfo(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "core.info")
	if err != nil {
		return err
	}
	labels := make([]string, 5)
	for i, k := range []string{"version", "id", "compiler", "compiled", "flags"} {
		v, _ := text(st, k) // absent build facts stay empty
		labels[i] = strings.TrimSpace(v)
	}
	if labels[0] == "" {
		return fmt.Errorf("core.info: no version")
	}
	s.Add(buildInfoDesc, 1, labels...)
	return nil
}

// core.shmmem: {total, free, used, real_used, max_used, fragments}. It
// fills the same families as stats.fetch's shmem group; a scrape keeps
// one sample per series, so it matters only when stats.fetch is disabled
// or lacks the shmem statistics.
func updateCoreShmmem(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "core.shmmem")
	if err != nil {
		return err
	}
	for _, k := range []string{"total", "free", "used", "real_used", "max_used"} {
		v, err := number(st, k)
		if err != nil {
			return fmt.Errorf("core.shmmem: %w", err)
		}
		s.Add(shmBytesDesc, v, k)
	}
	if err := addFields(s, st, []field{{"fragments", shmFragmentsDesc}}); err != nil {
		return fmt.Errorf("core.shmmem: %w", err)
	}
	return nil
}
