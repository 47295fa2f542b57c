package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	htableExpireDesc = newDesc(namespace+"_htable_auto_expire_seconds",
		"Time in seconds to delete an item from a hash table if no update was done to it", prometheus.GaugeValue, "name")
	htableUpdateExpireDesc = newDesc(namespace+"_htable_update_expire_status", "Update Expire status", prometheus.GaugeValue, "name")
	htableDMQDesc          = newDesc(namespace+"_htable_dmq_replicate_status", "DMQ Replicate status", prometheus.GaugeValue, "name")
	htableDBModeDesc       = newDesc(namespace+"_htable_db_mode_status", "Htable write back to db table", prometheus.GaugeValue, "name", "dbtable")

	htableStatsFields = []field{
		{"slots", newDesc(namespace+"_htable_slots_total", "Number of slots in the htable", prometheus.GaugeValue, "name")},
		{"all", newDesc(namespace+"_htable_items_total", "Total number of items stored in the htable", prometheus.GaugeValue, "name")},
		{"min", newDesc(namespace+"_htable_items_per_slots_min", "Min number of items per slot in the htable", prometheus.GaugeValue, "name")},
		{"max", newDesc(namespace+"_htable_items_per_slots_max", "Max number of items per slot in the htable", prometheus.GaugeValue, "name")},
	}
)

// htableCall returns one struct per table, left encoded; Kamailio's fault
// for a config without tables is an empty result.
func htableCall(ctx context.Context, c Caller, method string) ([]binrpc.Value, error) {
	vals, err := c.CallEncoded(ctx, method)
	if binrpc.IsFault(err, 500, "No htables") {
		return nil, nil
	}
	return vals, err
}

var htableListFields = []field{
	{"expire", htableExpireDesc},
	{"updateexpire", htableUpdateExpireDesc},
	{"dmqreplicate", htableDMQDesc},
}

// htable.listTables: {name, dbtable, dbmode, expire, updateexpire, size, dmqreplicate}.
func updateHtableList(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	tables, err := htableCall(ctx, c, "htable.listTables")
	if err != nil {
		return err
	}
	p := newPicker()
	nameSlot, dbtableSlot := p.key("name"), p.key("dbtable")
	settings, dbmode := p.fields(htableListFields), p.fields([]field{{"dbmode", htableDBModeDesc}})
	return eachStruct("htable.listTables", tables, func(t binrpc.Value) error {
		if err := p.pick(t); err != nil {
			return err
		}
		name, err := p.text(nameSlot)
		if err != nil {
			return err
		}
		if err := addPicked(s, p, settings, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		dbtable, _ := p.text(dbtableSlot)
		if err := addPicked(s, p, dbmode, name, dbtable); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

// htable.stats: {name, slots, all, min, max}.
func updateHtableStats(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	tables, err := htableCall(ctx, c, "htable.stats")
	if err != nil {
		return err
	}
	p := newPicker()
	nameSlot, sizes := p.key("name"), p.fields(htableStatsFields)
	return eachStruct("htable.stats", tables, func(t binrpc.Value) error {
		if err := p.pick(t); err != nil {
			return err
		}
		name, err := p.text(nameSlot)
		if err != nil {
			return err
		}
		if err := addPicked(s, p, sizes, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}
