package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// pkgFields are the sizes of a process's private memory; older Kamailio
// versions lack some.
var pkgFields = []field{
	{"used", newDesc(namespace+"_pkgmem_used", "Private memory used", prometheus.GaugeValue, "entry", "pid")},
	{"free", newDesc(namespace+"_pkgmem_free", "Private memory free", prometheus.GaugeValue, "entry", "pid")},
	{"real_used", newDesc(namespace+"_pkgmem_real", "Private memory real used", prometheus.GaugeValue, "entry", "pid")},
	{"total_size", newDesc(namespace+"_pkgmem_size", "Private memory total size", prometheus.GaugeValue, "entry", "pid")},
	{"total_frags", newDesc(namespace+"_pkgmem_frags", "Private memory total frags", prometheus.GaugeValue, "entry", "pid")},
}

// pkg.stats: one struct per process {entry, pid, rank, used, free,
// real_used, total_size, total_frags, desc}, walked one process at a time.
func updatePkgStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	vals, err := c.CallEncoded(ctx, "pkg.stats")
	if err != nil {
		return err
	}
	p := newPicker()
	entrySlot, pidSlot, sizes := p.key("entry"), p.key("pid"), p.fields(pkgFields)
	return eachStruct("pkg.stats", vals, func(proc binrpc.Value) error {
		if err := p.pick(proc); err != nil {
			return err
		}
		entry, err := p.text(entrySlot)
		if err != nil {
			return err
		}
		pid, err := p.text(pidSlot)
		if err != nil {
			return err
		}
		return addPicked(s, p, sizes, entry, pid)
	})
}
