package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	pkgUsedDesc  = newDesc(namespace+"_pkgmem_used", "Private memory used", prometheus.GaugeValue, "entry", "pid")
	pkgFreeDesc  = newDesc(namespace+"_pkgmem_free", "Private memory free", prometheus.GaugeValue, "entry", "pid")
	pkgRealDesc  = newDesc(namespace+"_pkgmem_real", "Private memory real used", prometheus.GaugeValue, "entry", "pid")
	pkgSizeDesc  = newDesc(namespace+"_pkgmem_size", "Private memory total size", prometheus.GaugeValue, "entry", "pid")
	pkgFragsDesc = newDesc(namespace+"_pkgmem_frags", "Private memory total frags", prometheus.GaugeValue, "entry", "pid")

	pkgFields = []field{
		{"used", pkgUsedDesc},
		{"free", pkgFreeDesc},
		{"real_used", pkgRealDesc},
		{"total_size", pkgSizeDesc},
		{"total_frags", pkgFragsDesc},
	}
)

// pkg.stats: one struct per process {entry, pid, rank, used, free,
// real_used, total_size, total_frags, desc}.
func updatePkgStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	vals, err := c.Call(ctx, "pkg.stats")
	if err != nil {
		return err
	}
	procs, err := structs("pkg.stats", vals)
	if err != nil {
		return err
	}
	for _, p := range procs {
		entry, err := text(p, "entry")
		if err != nil {
			return fmt.Errorf("pkg.stats: %w", err)
		}
		pid, err := text(p, "pid")
		if err != nil {
			return fmt.Errorf("pkg.stats: %w", err)
		}
		if err := addFields(s, p, pkgFields, entry, pid); err != nil {
			return fmt.Errorf("pkg.stats: %w", err)
		}
	}
	return nil
}
