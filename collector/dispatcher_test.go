package collector

import (
	"testing"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// dispatcher.list: per destination, whether it takes traffic, its flags,
// priority, weights and latency (0 where Kamailio sends no ATTRS or
// LATENCY), labelled with its set, the set's name from testSettings, and
// its URI.
func TestDispatcherList(t *testing.T) {
	eachRelease(t, func(t *testing.T, release string) {
		compareCollectorGolden(t, release, "dispatcher.list")
	})
}

// dest is one destination of a dispatcher.list reply.
func dest(uri, flags string) binrpc.Member {
	return binrpc.Named("DEST", binrpc.Struct(
		binrpc.Named("URI", binrpc.String(uri)),
		binrpc.Named("FLAGS", binrpc.String(flags)),
		binrpc.Named("PRIORITY", binrpc.Int(0))))
}

// A destination takes traffic when its flags start with A (active) or T
// (trying: failing probes, still selected), not with I (inactive) or D
// (disabled); kamailio_dispatcher_list_target_flags_status carries the
// flags as Kamailio sends them.
func TestDispatcherFlags(t *testing.T) {
	reply := binrpc.Struct(
		binrpc.Named("NRSETS", binrpc.Int(1)),
		binrpc.Named("RECORDS", binrpc.Struct(binrpc.Named("SET", binrpc.Struct(
			binrpc.Named("ID", binrpc.Int(7)),
			binrpc.Named("TARGETS", binrpc.Struct(
				dest("sip:a.example", "AP"),
				dest("sip:t.example", "TX"),
				dest("sip:i.example", "IP"),
				dest("sip:d.example", "DX"),
			)))))))
	fams := collectorFamilies(t, defaultRelease, "dispatcher.list", map[string]fakectl.Response{
		"dispatcher.list": {Values: []binrpc.Value{reply}},
	})
	for uri, want := range map[string]struct {
		flags string
		up    float64
	}{
		"sip:a.example": {"AP", 1},
		"sip:t.example": {"TX", 1},
		"sip:i.example": {"IP", 0},
		"sip:d.example": {"DX", 0},
	} {
		labels := map[string]string{"set_id": "7", "set_name": "", "destination": uri}
		if v, ok := sampleValue(fams, "kamailio_dispatcher_list_target", labels); !ok || v != want.up {
			t.Errorf("kamailio_dispatcher_list_target{destination=%q} = %v %v, want %v", uri, v, ok, want.up)
		}
		labels["flags"] = want.flags
		if v, ok := sampleValue(fams, "kamailio_dispatcher_list_target_flags_status", labels); !ok || v != 1 {
			t.Errorf("kamailio_dispatcher_list_target_flags_status{destination=%q,flags=%q} = %v %v, want 1", uri, want.flags, v, ok)
		}
	}
	if n := familyLen(fams, "kamailio_dispatcher_list_target"); n != 4 {
		t.Errorf("%d destinations, want 4", n)
	}
}

// Kamailio without destination sets answers with a fault, or with no
// RECORDS: the collector succeeds and exports nothing.
func TestDispatcherNoSets(t *testing.T) {
	for name, resp := range map[string]fakectl.Response{
		"fault":      {Fault: &binrpc.FaultError{Code: 500, Message: "No Destination Sets"}},
		"no records": {Values: []binrpc.Value{binrpc.Struct(binrpc.Named("NRSETS", binrpc.Int(0)))}},
	} {
		t.Run(name, func(t *testing.T) {
			fams := collectorFamilies(t, defaultRelease, "dispatcher.list", map[string]fakectl.Response{"dispatcher.list": resp})
			if len(fams) != 0 {
				t.Errorf("%d families without sets:\n%s", len(fams), exposition(t, fams))
			}
		})
	}
}

// Kamailio writes a set's ID before its TARGETS, and the destinations are
// converted as they are read; a set whose TARGETS comes first is
// converted all the same, after its ID. A set without an ID fails the
// collector.
func TestDispatcherSetMemberOrder(t *testing.T) {
	set := func(members ...binrpc.Member) binrpc.Member { return binrpc.Named("SET", binrpc.Struct(members...)) }
	reply := func(sets ...binrpc.Member) map[string]fakectl.Response {
		return map[string]fakectl.Response{"dispatcher.list": {Values: []binrpc.Value{binrpc.Struct(
			binrpc.Named("NRSETS", binrpc.Int(int64(len(sets)))),
			binrpc.Named("RECORDS", binrpc.Struct(sets...)))}}}
	}
	fams := collectorFamilies(t, defaultRelease, "dispatcher.list", reply(
		set(binrpc.Named("ID", binrpc.Int(7)), binrpc.Named("TARGETS", binrpc.Struct(dest("sip:first.example", "AP")))),
		set(binrpc.Named("TARGETS", binrpc.Struct(dest("sip:later.example", "IP"), dest("sip:later2.example", "AP"))),
			binrpc.Named("ID", binrpc.Int(8))),
	))
	for uri, id := range map[string]string{"sip:first.example": "7", "sip:later.example": "8", "sip:later2.example": "8"} {
		labels := map[string]string{"set_id": id, "set_name": "", "destination": uri}
		if _, ok := sampleValue(fams, "kamailio_dispatcher_list_target_priority", labels); !ok {
			t.Errorf("no priority for %s in set %s:\n%s", uri, id, exposition(t, fams))
		}
	}
	if n := familyLen(fams, "kamailio_dispatcher_list_target"); n != 3 {
		t.Errorf("%d destinations, want 3", n)
	}
	fams = scrapeOnly(t, defaultRelease, "dispatcher.list", reply(
		set(binrpc.Named("TARGETS", binrpc.Struct(dest("sip:orphan.example", "AP"))))))
	if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "dispatcher.list"}); !ok || v != 0 {
		t.Errorf("a set without ID: success %v %v, want 0", v, ok)
	}
	if n := familyLen(fams, "kamailio_dispatcher_list_target"); n != 0 {
		t.Errorf("a set without ID: %d destinations exported", n)
	}
}
