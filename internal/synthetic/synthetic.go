// Package synthetic builds large Kamailio instances for benchmarks: the
// replies of the RPCs the exporter calls, in the shapes recorded from
// Kamailio 5.6 (binrpc/testdata/replies), with any number of processes,
// dispatcher destinations, htables, statistics and dialog profiles.
package synthetic

import (
	"fmt"
	"math"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// Instance is the size of a synthetic Kamailio.
type Instance struct {
	Procs       int // processes (core.psa, pkg.stats)
	Sets        int // dispatcher sets
	DestsPerSet int // destinations per set
	Htables     int // hash tables (htable.listTables, htable.stats)
	Stats       int // statistics (stats.fetch all)
	Profiles    int // dialog profiles (dlg.profile_get_size, one RPC each)
}

// Large is the largest synthetic instance, the 100x of BENCHMARKS.md.
var Large = Instance{Procs: 256, Sets: 100, DestsPerSet: 100, Htables: 500, Stats: 5000, Profiles: 1000}

// Production is a large production proxy, the "large instance" of
// BENCHMARKS.md measured against a real Kamailio too (KAMAILIO_LARGE=1):
// 1 000 dispatcher destinations in 50 sets, about 40 processes, 100
// htables, a few hundred statistics.
var Production = Instance{Procs: 40, Sets: 50, DestsPerSet: 20, Htables: 100, Stats: 460, Profiles: 1}

// Scaled returns Large scaled by pct percent, each count rounded up (so
// 1 % is 3 processes, 1 set of 100 destinations, 5 htables, 50 statistics
// and 10 profiles).
func Scaled(pct int) Instance {
	up := func(n int) int { return int(math.Ceil(float64(n) * float64(pct) / 100)) }
	return Instance{Procs: up(Large.Procs), Sets: up(Large.Sets), DestsPerSet: Large.DestsPerSet,
		Htables: up(Large.Htables), Stats: up(Large.Stats), Profiles: up(Large.Profiles)}
}

// Items is the number of things the exporter reports on.
func (i Instance) Items() int {
	return i.Procs + i.Sets*i.DestsPerSet + i.Htables + i.Stats + i.Profiles
}

// ProfileNames are the dialog profiles to ask for.
func (i Instance) ProfileNames() []string {
	out := make([]string, i.Profiles)
	for p := range out {
		out[p] = fmt.Sprintf("profile%04d", p)
	}
	return out
}

// Methods are the RPC methods a synthetic instance answers.
var Methods = []string{"core.uptime", "core.runinfo", "core.info", "core.tcp_info", "core.shmmem", "core.psa",
	"pkg.stats", "dispatcher.list", "htable.listTables", "htable.stats", "stats.fetch", "dlg.stats_active",
	"dlg.profile_get_size"}

// Replies encodes the replies, by method, once: a server sends them as
// they are.
func (i Instance) Replies() (map[string]*fakectl.Recording, error) {
	s, n := binrpc.String, binrpc.Int
	r := map[string][]binrpc.Value{}
	var methods []binrpc.Value
	for _, m := range Methods {
		methods = append(methods, s(m))
	}
	r["system.listMethods"] = methods
	r["core.uptime"] = []binrpc.Value{binrpc.Struct(binrpc.Named("now", s("Wed Nov 25 04:05:00 2026")),
		binrpc.Named("up_since", s("Wed Nov 25 04:01:32 2026")), binrpc.Named("uptime", n(208)))}
	// The small replies of the other core and dialog methods, as 5.8 sends
	// them: a Kamailio has them whatever its size.
	r["core.runinfo"] = []binrpc.Value{binrpc.Struct(binrpc.Named("name", s("kamailio")), binrpc.Named("version", s("5.8.8")),
		binrpc.Named("sourceid", s("unknown")), binrpc.Named("compiler", s("gcc 12.2.0")), binrpc.Named("compiled", s("03:57:49 Nov 26 2026")),
		binrpc.Named("time_now", s("Wed Nov 25 04:05:00 2026")), binrpc.Named("time_started", s("Wed Nov 25 04:01:32 2026")),
		binrpc.Named("uptime_secs", n(208)), binrpc.Named("utime_days", s("0d 0h 3m 28s")))}
	r["core.info"] = []binrpc.Value{binrpc.Struct(binrpc.Named("version", s("kamailio 5.8.8")), binrpc.Named("id", s("unknown")),
		binrpc.Named("compiler", s("gcc 12.2.0")), binrpc.Named("compiled", s("03:57:49 Nov 26 2026")),
		binrpc.Named("flags", s("USE_TCP, USE_TLS, SHM_MMAP, PKG_MALLOC, Q_MALLOC, F_MALLOC, TLSF_MALLOC, USE_FUTEX")))}
	r["core.tcp_info"] = []binrpc.Value{binrpc.Struct(binrpc.Named("readers", n(2)), binrpc.Named("max_connections", n(2048)),
		binrpc.Named("max_tls_connections", n(2048)), binrpc.Named("opened_connections", n(0)),
		binrpc.Named("opened_tls_connections", n(0)), binrpc.Named("write_queued_bytes", n(0)))}
	r["core.shmmem"] = []binrpc.Value{binrpc.Struct(binrpc.Named("total", binrpc.Double(67108864)), binrpc.Named("free", binrpc.Double(61527152)),
		binrpc.Named("used", binrpc.Double(3979072)), binrpc.Named("real_used", binrpc.Double(5581712)),
		binrpc.Named("max_used", binrpc.Double(5617824)), binrpc.Named("fragments", n(7)))}
	r["dlg.stats_active"] = []binrpc.Value{binrpc.Struct(binrpc.Named("starting", n(0)), binrpc.Named("connecting", n(0)),
		binrpc.Named("answering", n(20)), binrpc.Named("ongoing", n(0)), binrpc.Named("all", n(20)))}
	var psa, pkg []binrpc.Value
	for p := range i.Procs {
		psa = append(psa, binrpc.Struct(binrpc.Named("index", n(int64(p))), binrpc.Named("pid", n(int64(1000+p))),
			binrpc.Named("status", n(1)), binrpc.Named("rank", n(int64(p))),
			binrpc.Named("description", s(fmt.Sprintf("udp receiver child=%d sock=127.0.0.1:5060", p)))))
		pkg = append(pkg, binrpc.Struct(binrpc.Named("entry", n(int64(p))), binrpc.Named("pid", n(int64(1000+p))),
			binrpc.Named("rank", n(int64(p))), binrpc.Named("used", n(3829424)), binrpc.Named("free", n(11730984)),
			binrpc.Named("real_used", n(5046232)), binrpc.Named("total_size", n(16777216)), binrpc.Named("total_frags", n(254)),
			binrpc.Named("desc", s("udp receiver"))))
	}
	r["core.psa"], r["pkg.stats"] = psa, pkg
	var records []binrpc.Member
	for set := range i.Sets {
		var dests []binrpc.Member
		for d := range i.DestsPerSet {
			dests = append(dests, binrpc.Named("DEST", binrpc.Struct(
				binrpc.Named("URI", s(fmt.Sprintf("sip:10.%d.%d.%d:5060", set/250, set%250, d))),
				binrpc.Named("FLAGS", s("AP")), binrpc.Named("PRIORITY", n(int64(d%10))),
				binrpc.Named("ATTRS", binrpc.Struct(binrpc.Named("BODY", s("weight=50")), binrpc.Named("WEIGHT", n(50)), binrpc.Named("RWEIGHT", n(0)))),
				binrpc.Named("LATENCY", binrpc.Struct(binrpc.Named("AVG", binrpc.Double(2.5)), binrpc.Named("STD", binrpc.Double(0.1)),
					binrpc.Named("EST", binrpc.Double(2.4)), binrpc.Named("MAX", n(9)), binrpc.Named("TIMEOUT", n(0)))))))
		}
		records = append(records, binrpc.Named("SET", binrpc.Struct(binrpc.Named("ID", n(int64(set+1))), binrpc.Named("TARGETS", binrpc.Struct(dests...)))))
	}
	if i.Sets > 0 {
		r["dispatcher.list"] = []binrpc.Value{binrpc.Struct(binrpc.Named("NRSETS", n(int64(i.Sets))), binrpc.Named("RECORDS", binrpc.Struct(records...)))}
	}
	var tables, tstats []binrpc.Value
	for h := range i.Htables {
		name := s(fmt.Sprintf("table%04d", h))
		tables = append(tables, binrpc.Struct(binrpc.Named("name", name), binrpc.Named("dbtable", s("")), binrpc.Named("dbmode", n(0)),
			binrpc.Named("expire", n(300)), binrpc.Named("updateexpire", n(1)), binrpc.Named("size", n(256)), binrpc.Named("dmqreplicate", n(0))))
		tstats = append(tstats, binrpc.Struct(binrpc.Named("name", name), binrpc.Named("slots", n(256)), binrpc.Named("all", n(10)),
			binrpc.Named("min", n(0)), binrpc.Named("max", n(2))))
	}
	r["htable.listTables"], r["htable.stats"] = tables, tstats
	var stats []binrpc.Member
	for st := range i.Stats {
		stats = append(stats, binrpc.Named(fmt.Sprintf("mod%03d.counter_%05d", st%100, st), s("123456")))
	}
	r["stats.fetch"] = []binrpc.Value{binrpc.Struct(stats...)}
	r["dlg.profile_get_size"] = []binrpc.Value{n(7)}

	out := map[string]*fakectl.Recording{}
	for m, vals := range r {
		var payload []byte
		for _, v := range vals {
			var err error
			if payload, err = binrpc.AppendValue(payload, v); err != nil {
				return nil, fmt.Errorf("%s: %w", m, err)
			}
		}
		out[m] = &fakectl.Recording{Type: binrpc.TypeReply, Payload: payload}
	}
	return out, nil
}

// Handler answers from replies (by method; any stats.fetch argument gets
// all statistics) and with ctl's "not found" fault for anything else.
func Handler(replies map[string]*fakectl.Recording) fakectl.Handler {
	return func(r fakectl.Request) fakectl.Response {
		if rec, ok := replies[r.Method]; ok {
			return fakectl.Response{Recorded: rec}
		}
		return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + r.Method + " not found"}}
	}
}
