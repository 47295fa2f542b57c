package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

var (
	pkgUsedDesc  = newDesc(namespace+"_pkgmem_used", "Private memory used", prometheus.GaugeValue, "entry", "pid")
	pkgFreeDesc  = newDesc(namespace+"_pkgmem_free", "Private memory free", prometheus.GaugeValue, "entry", "pid")
	pkgRealDesc  = newDesc(namespace+"_pkgmem_real", "Private memory real used", prometheus.GaugeValue, "entry", "pid")
	pkgSizeDesc  = newDesc(namespace+"_pkgmem_size", "Private memory total size", prometheus.GaugeValue, "entry", "pid")
	pkgFragsDesc = newDesc(namespace+"_pkgmem_frags", "Private memory total frags", prometheus.GaugeValue, "entry", "pid")

	// in the order of the members picked after entry and pid
	pkgDescs = []*page.Desc{pkgUsedDesc, pkgFreeDesc, pkgRealDesc, pkgSizeDesc, pkgFragsDesc}
)

// pkg.stats: one struct per process {entry, pid, rank, used, free,
// real_used, total_size, total_frags, desc}, walked one process at a time.
func updatePkgStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	vals, err := c.CallEncoded(ctx, "pkg.stats")
	if err != nil {
		return err
	}
	p := newPicker("entry", "pid", "used", "free", "real_used", "total_size", "total_frags")
	return eachStruct("pkg.stats", vals, func(proc binrpc.Value) error {
		if err := p.pick(proc); err != nil {
			return err
		}
		entry, err := p.text(0)
		if err != nil {
			return err
		}
		pid, err := p.text(1)
		if err != nil {
			return err
		}
		for i, d := range pkgDescs {
			if !p.ok[2+i] {
				continue // older Kamailio versions lack some
			}
			v, err := p.number(2 + i)
			if err != nil {
				return err
			}
			s.Add(d, v, entry, pid)
		}
		return nil
	})
}
