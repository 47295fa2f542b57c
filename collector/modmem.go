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

func init() {
	registerOff("mod.mem_stats", "memory per module; walks Kamailio's allocation tables, off by default", updateModMemStats)
}

// mod.mem_stats all shm|pkg: per module the string "Module: NAME", a
// struct of "function(line)" → bytes with a final "Total", and an empty
// string. A module without allocations of the type may have no struct.
// The total is summed from the allocations in 64 bits (Kamailio's "Total"
// is a C int).
func updateModMemStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	for _, typ := range []string{"shm", "pkg"} {
		vals, err := c.Call(ctx, "mod.mem_stats", "all", typ)
		if err != nil {
			return err
		}
		module := ""
		for _, v := range vals {
			switch v.Kind {
			case binrpc.KindString:
				if name, ok := strings.CutPrefix(v.Str, "Module: "); ok {
					module = name
				}
			case binrpc.KindStruct:
				if module == "" {
					return fmt.Errorf("mod.mem_stats %s: allocations without a module name", typ)
				}
				total := 0.0
				for _, m := range v.Members {
					if m.Name == "Total" {
						continue
					}
					n, err := m.Value.Float()
					if err != nil {
						return fmt.Errorf("mod.mem_stats %s: %s %s: %w", typ, module, m.Name, err)
					}
					total += n
				}
				s.Add(modMemDesc, total, module, typ)
				module = ""
			default:
				return fmt.Errorf("mod.mem_stats %s: want strings and structs, got %s", typ, shape(vals))
			}
		}
	}
	return nil
}
