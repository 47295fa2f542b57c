package collector

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// instance is the size of a synthetic Kamailio. small×100 is the large
// instance of issue 7: 300 processes, 10 000 dispatcher destinations in
// 100 sets, 500 htables, 5 000 statistics, 1 000 dialog profiles.
type instance struct{ procs, sets, destsPerSet, htables, stats, profiles int }

var small = instance{procs: 3, sets: 1, destsPerSet: 100, htables: 5, stats: 50, profiles: 10}

func (i instance) times(n int) instance {
	return instance{i.procs * n, i.sets * n, i.destsPerSet, i.htables * n, i.stats * n, i.profiles * n}
}

func (i instance) items() int {
	return i.procs + i.sets*i.destsPerSet + i.htables + i.stats + i.profiles
}

// replies builds replies of the shapes recorded from Kamailio 5.6.
func (i instance) replies() map[string][]binrpc.Value {
	s, n := binrpc.String, binrpc.Int
	r := map[string][]binrpc.Value{}
	var methods, psa, pkg, tables, tstats []binrpc.Value
	for _, m := range []string{"core.uptime", "core.psa", "pkg.stats", "dispatcher.list", "htable.listTables",
		"htable.stats", "stats.fetch", "dlg.profile_get_size"} {
		methods = append(methods, s(m))
	}
	r["system.listMethods"] = methods
	r["core.uptime"] = []binrpc.Value{binrpc.Struct(binrpc.Named("up_since", s("Wed Nov 25 04:01:32 2026")), binrpc.Named("uptime", n(10)))}
	for p := range i.procs {
		psa = append(psa, binrpc.Struct(binrpc.Named("index", n(int64(p))), binrpc.Named("pid", n(int64(1000+p))),
			binrpc.Named("status", n(1)), binrpc.Named("rank", n(int64(p))), binrpc.Named("description", s(fmt.Sprintf("udp receiver child=%d sock=127.0.0.1:5060", p)))))
		pkg = append(pkg, binrpc.Struct(binrpc.Named("entry", n(int64(p))), binrpc.Named("pid", n(int64(1000+p))),
			binrpc.Named("rank", n(int64(p))), binrpc.Named("used", n(3829424)), binrpc.Named("free", n(11730984)),
			binrpc.Named("real_used", n(5046232)), binrpc.Named("total_size", n(16777216)), binrpc.Named("total_frags", n(254)),
			binrpc.Named("desc", s("udp receiver"))))
	}
	r["core.psa"], r["pkg.stats"] = psa, pkg
	var records []binrpc.Member
	for set := range i.sets {
		var dests []binrpc.Member
		for d := range i.destsPerSet {
			dests = append(dests, binrpc.Named("DEST", binrpc.Struct(
				binrpc.Named("URI", s(fmt.Sprintf("sip:10.%d.%d.%d:5060", set/250, set%250, d))),
				binrpc.Named("FLAGS", s("AP")), binrpc.Named("PRIORITY", n(int64(d%10))),
				binrpc.Named("ATTRS", binrpc.Struct(binrpc.Named("BODY", s("weight=50")), binrpc.Named("WEIGHT", n(50)), binrpc.Named("RWEIGHT", n(0)))),
				binrpc.Named("LATENCY", binrpc.Struct(binrpc.Named("AVG", binrpc.Double(2.5)), binrpc.Named("STD", binrpc.Double(0.1)),
					binrpc.Named("EST", binrpc.Double(2.4)), binrpc.Named("MAX", n(9)), binrpc.Named("TIMEOUT", n(0)))))))
		}
		records = append(records, binrpc.Named("SET", binrpc.Struct(binrpc.Named("ID", n(int64(set+1))), binrpc.Named("TARGETS", binrpc.Struct(dests...)))))
	}
	r["dispatcher.list"] = []binrpc.Value{binrpc.Struct(binrpc.Named("NRSETS", n(int64(i.sets))), binrpc.Named("RECORDS", binrpc.Struct(records...)))}
	for h := range i.htables {
		name := s(fmt.Sprintf("table%04d", h))
		tables = append(tables, binrpc.Struct(binrpc.Named("name", name), binrpc.Named("dbtable", s("")), binrpc.Named("dbmode", n(0)),
			binrpc.Named("expire", n(300)), binrpc.Named("updateexpire", n(1)), binrpc.Named("size", n(256)), binrpc.Named("dmqreplicate", n(0))))
		tstats = append(tstats, binrpc.Struct(binrpc.Named("name", name), binrpc.Named("slots", n(256)), binrpc.Named("all", n(10)),
			binrpc.Named("min", n(0)), binrpc.Named("max", n(2))))
	}
	r["htable.listTables"], r["htable.stats"] = tables, tstats
	var stats []binrpc.Member
	for st := range i.stats {
		stats = append(stats, binrpc.Named(fmt.Sprintf("mod%03d.counter_%05d", st%100, st), s("123456")))
	}
	r["stats.fetch_all"] = []binrpc.Value{binrpc.Struct(stats...)}
	r["dlg.profile_get_size"] = []binrpc.Value{n(7)}
	return r
}

func (i instance) profileNames() []string {
	out := make([]string, i.profiles)
	for p := range out {
		out[p] = fmt.Sprintf("profile%04d", p)
	}
	return out
}

// BenchmarkScale scrapes synthetic instances of 1×, 10× and 100× a small
// one and reports the cost per item (destination, process, table,
// statistic, profile): it should stay flat as the instance grows.
func BenchmarkScale(b *testing.B) {
	for _, factor := range []int{1, 10, 100} {
		inst := small.times(factor)
		replies := inst.replies()
		s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
			key := r.Method
			if r.Method == "stats.fetch" {
				key = "stats.fetch_all"
			}
			if v, ok := replies[key]; ok {
				return fakectl.Response{Values: v}
			}
			return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + r.Method + " not found"}}
		})
		if err != nil {
			b.Fatal(err)
		}
		addr, _ := binrpc.ParseURI(s.URI())
		settings := Settings{AllStatistics: true, DialogProfiles: inst.profileNames()}
		e := NewExporter(addr, time.Minute, settings, nil, promslog.NewNopLogger())
		b.Run(fmt.Sprintf("x%d_items%d", factor, inst.items()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := e.Scrape(context.Background())
				if len(out.samples) < inst.items() {
					b.Fatalf("%d samples for %d items", len(out.samples), inst.items())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(inst.items()), "ns/item")
		})
		s.Close()
	}
}

// BenchmarkHeapSteadyState scrapes the recorded Kamailio 10 000 times and
// reports the live heap (after GC) at scrape 1 000 and at scrape 10 000:
// a flat heap means nothing accumulates between scrapes.
func BenchmarkHeapSteadyState(b *testing.B) {
	s := replay(b, "unix", nil)
	e := newTestExporter(b, s, 5*time.Second)
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc)
	}
	for b.Loop() {
		var at1k float64
		for i := 1; i <= 10000; i++ {
			e.Scrape(context.Background())
			if i == 1000 {
				at1k = heap()
			}
		}
		at10k := heap()
		b.ReportMetric(at1k, "heap-at-1k-B")
		b.ReportMetric(at10k, "heap-at-10k-B")
		b.ReportMetric(at10k-at1k, "heap-growth-B")
	}
}
