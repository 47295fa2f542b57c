package collector

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var modMemDesc = newDesc(namespace+"_module_memory_bytes",
	"Memory allocated by a Kamailio module (mod.mem_stats): type shm is shared memory, pkg the private memory of the ctl process that answers.",
	prometheus.GaugeValue, "module", "type")

// mod.mem_stats all all: per module the string "Module: NAME", a struct of
// its pkg allocations, one of its shm allocations (each "function(line)" →
// bytes, with a final "Total"), and an empty string. Whatever type it is
// asked for, Kamailio walks both memories, shm under its lock: one call for
// both types walks them once. A module's bytes are summed from its
// allocations in 64 bits (Kamailio's "Total" is a C int).
func updateModMemStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	vals, err := c.Call(ctx, "mod.mem_stats", "all", "all")
	if err != nil {
		return err
	}
	module := ""
	var totals []float64
	flush := func() error {
		if module == "" && len(totals) == 0 {
			return nil
		}
		if module == "" || len(totals) != 2 {
			return fmt.Errorf("mod.mem_stats: module %q has %d allocation structs, want 2 (pkg, shm)", module, len(totals))
		}
		s.Add(modMemDesc, totals[0], module, "pkg")
		s.Add(modMemDesc, totals[1], module, "shm")
		module, totals = "", totals[:0]
		return nil
	}
	for _, v := range vals {
		switch v.Kind {
		case binrpc.KindString:
			if err := flush(); err != nil {
				return err
			}
			name, ok := strings.CutPrefix(v.Str, "Module: ")
			if !ok && v.Str != "" {
				return fmt.Errorf("mod.mem_stats: unexpected string %q", v.Str)
			}
			module = name
		case binrpc.KindStruct:
			total := 0.0
			for _, m := range v.Members {
				if m.Name == "Total" {
					continue
				}
				n, err := m.Value.Float()
				if err != nil {
					return fmt.Errorf("mod.mem_stats: %s %s: %w", module, m.Name, err)
				}
				if n < 0 && m.Value.Kind == binrpc.KindInt {
					n += 1 << 32 // a size, sent as a C int: 2 to 4 GiB arrive negative
				}
				total += n
			}
			totals = append(totals, total)
		default:
			return fmt.Errorf("mod.mem_stats: want strings and structs, got %s", shape(vals))
		}
	}
	return flush()
}
