package collector

import (
	"testing"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// htable.listTables: each table's settings, labelled with its name (and
// its database table); every release answers alike.
func TestHtableListTables(t *testing.T) {
	const want = `
# HELP kamailio_htable_auto_expire_seconds Time in seconds to delete an item from a hash table if no update was done to it
# TYPE kamailio_htable_auto_expire_seconds gauge
kamailio_htable_auto_expire_seconds{name="ipban"} 300
kamailio_htable_auto_expire_seconds{name="trunks"} 0
# HELP kamailio_htable_db_mode_status Htable write back to db table
# TYPE kamailio_htable_db_mode_status gauge
kamailio_htable_db_mode_status{dbtable="",name="ipban"} 0
kamailio_htable_db_mode_status{dbtable="",name="trunks"} 0
# HELP kamailio_htable_dmq_replicate_status DMQ Replicate status
# TYPE kamailio_htable_dmq_replicate_status gauge
kamailio_htable_dmq_replicate_status{name="ipban"} 0
kamailio_htable_dmq_replicate_status{name="trunks"} 0
# HELP kamailio_htable_update_expire_status Update Expire status
# TYPE kamailio_htable_update_expire_status gauge
kamailio_htable_update_expire_status{name="ipban"} 1
kamailio_htable_update_expire_status{name="trunks"} 1
`
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "htable.listTables", want)
	})
}

// htable.stats: each table's slots and items, labelled with its name;
// every release answers alike.
func TestHtableStats(t *testing.T) {
	const want = `
# HELP kamailio_htable_items_per_slots_max Max number of items per slot in the htable
# TYPE kamailio_htable_items_per_slots_max gauge
kamailio_htable_items_per_slots_max{name="ipban"} 1
kamailio_htable_items_per_slots_max{name="trunks"} 1
# HELP kamailio_htable_items_per_slots_min Min number of items per slot in the htable
# TYPE kamailio_htable_items_per_slots_min gauge
kamailio_htable_items_per_slots_min{name="ipban"} 0
kamailio_htable_items_per_slots_min{name="trunks"} 0
# HELP kamailio_htable_items_total Total number of items stored in the htable
# TYPE kamailio_htable_items_total gauge
kamailio_htable_items_total{name="ipban"} 1
kamailio_htable_items_total{name="trunks"} 2
# HELP kamailio_htable_slots_total Number of slots in the htable
# TYPE kamailio_htable_slots_total gauge
kamailio_htable_slots_total{name="ipban"} 256
kamailio_htable_slots_total{name="trunks"} 16
`
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "htable.stats", want)
	})
}

// Kamailio without hash tables answers both methods with the fault "No
// htables": the collectors succeed and export nothing.
func TestHtableNoTables(t *testing.T) {
	for _, name := range []string{"htable.listTables", "htable.stats"} {
		t.Run(name, func(t *testing.T) {
			fams := collectorFamilies(t, defaultRelease, name, map[string]fakectl.Response{
				name: {Fault: &binrpc.FaultError{Code: 500, Message: "No htables"}},
			})
			if len(fams) != 0 {
				t.Errorf("%d families without tables:\n%s", len(fams), exposition(t, fams))
			}
		})
	}
}
