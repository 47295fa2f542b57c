package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	dsLabels       = []string{"set_id", "destination", "set_name"}
	dsTargetDesc   = newDesc(namespace+"_dispatcher_list_target", "Target status.", prometheus.GaugeValue, dsLabels...)
	dsFlagsDesc    = newDesc(namespace+"_dispatcher_list_target_flags_status", "Target flags.", prometheus.GaugeValue, "set_id", "destination", "set_name", "flags")
	dsPriorityDesc = newDesc(namespace+"_dispatcher_list_target_priority", "Target Priority.", prometheus.GaugeValue, dsLabels...)
	dsAttrsFields  = []field{
		{"WEIGHT", newDesc(namespace+"_dispatcher_list_target_weight", "Target Weight.", prometheus.GaugeValue, dsLabels...)},
		{"RWEIGHT", newDesc(namespace+"_dispatcher_list_target_rweight", "Target rweight.", prometheus.GaugeValue, dsLabels...)},
	}
	dsLatencyFields = []field{
		{"AVG", newDesc(namespace+"_dispatcher_list_target_latency_avg", "Target Latency Average.", prometheus.GaugeValue, dsLabels...)},
		{"STD", newDesc(namespace+"_dispatcher_list_target_latency_std", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
		{"EST", newDesc(namespace+"_dispatcher_list_target_latency_est", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
		{"MAX", newDesc(namespace+"_dispatcher_list_target_latency_max", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
		{"TIMEOUT", newDesc(namespace+"_dispatcher_list_target_latency_timeout", "Target Latency.", prometheus.GaugeValue, dsLabels...)},
	}
)

// dispatcherUp tells whether a destination takes traffic, from the first
// letter of its FLAGS: A (active) and T (trying: failing probes but not yet
// past ds_probing_threshold, still selected) are up; I (inactive) and
// D (disabled) are down.
func dispatcherUp(flags string) bool {
	return flags != "" && (flags[0] == 'A' || flags[0] == 'T')
}

// dispatcher.list: {NRSETS, RECORDS{SET{ID, TARGETS{DEST{URI, FLAGS,
// PRIORITY, [ATTRS{…WEIGHT, RWEIGHT…}], [LATENCY{AVG, STD, EST, MAX,
// TIMEOUT}]}…}}…}}. No sets loaded (fault 500 "No Destination Sets") is an
// empty result.
func updateDispatcherList(ctx context.Context, c Caller, cfg *Settings, s *Sink) error {
	// Each SET is decoded when it is converted, not the whole tree at once
	// (BENCHMARKS.md, resident memory).
	top, err := callStruct(binrpc.WithLazyDepth(ctx, 2), c, "dispatcher.list")
	if binrpc.IsFault(err, 500, "No Destination Sets") {
		return nil
	}
	if err != nil {
		return err
	}
	records, ok := top.Get("RECORDS")
	if !ok {
		return nil // no sets
	}
	for _, set := range records.Members {
		if set.Name != "SET" {
			continue
		}
		if set.Value, err = set.Value.Expand(); err != nil {
			return fmt.Errorf("dispatcher.list: SET: %w", err)
		}
		id, err := number(set.Value, "ID")
		if err != nil {
			return fmt.Errorf("dispatcher.list: SET: %w", err)
		}
		setID := itoa(int(id))
		setName := cfg.DispatcherSetNames[int(id)]
		targets, _ := set.Value.Get("TARGETS")
		for _, dest := range targets.Members {
			if dest.Name != "DEST" {
				continue
			}
			if err := addDestination(s, dest.Value, setID, setName); err != nil {
				return fmt.Errorf("dispatcher.list: set %s: %w", setID, err)
			}
		}
	}
	return nil
}

func addDestination(s *Sink, d binrpc.Value, setID, setName string) error {
	uri, err := text(d, "URI")
	if err != nil {
		return err
	}
	flags, err := text(d, "FLAGS")
	if err != nil {
		return err
	}
	s.Add(dsTargetDesc, b2f(dispatcherUp(flags)), setID, uri, setName)
	s.Add(dsFlagsDesc, 1, setID, uri, setName, flags)
	if prio, err := number(d, "PRIORITY"); err == nil {
		s.Add(dsPriorityDesc, prio, setID, uri, setName)
	}
	// The reference exporter always exports weight, rweight and latency,
	// with 0 when Kamailio has no ATTRS or LATENCY for the destination.
	attrs, _ := d.Get("ATTRS")
	latency, _ := d.Get("LATENCY")
	for _, group := range []struct {
		st     binrpc.Value
		fields []field
	}{{attrs, dsAttrsFields}, {latency, dsLatencyFields}} {
		for _, f := range group.fields {
			v := 0.0
			if m, ok := group.st.Get(f.key); ok {
				if v, err = m.Float(); err != nil {
					return fmt.Errorf("%s %s: %w", uri, f.key, err)
				}
			}
			s.Add(f.desc, v, setID, uri, setName)
		}
	}
	return nil
}
