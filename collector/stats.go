package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// The stats.fetch collector reads Kamailio's statistics, by the way this
// Kamailio's ctl limits allow (eachStat), and exports each under the family
// stats_names.go gives it.

// stats.fetch all: one struct whose members are "group.name" → decimal
// string. Values are parsed exactly; a value that is not a number fails the
// collector rather than being exported as a wrong number.
func updateStatsFetch(ctx context.Context, c Caller, cfg *Settings, s *Sink) error {
	return eachStat(ctx, c, s, func(m binrpc.Member) error {
		if !m.Named {
			return fmt.Errorf("stats.fetch: unnamed member in reply")
		}
		d, labels, ok := statFamily(m.Name, cfg.AllStatistics, s.descs)
		if !ok {
			return nil
		}
		v, err := m.Value.Float()
		if err != nil {
			return fmt.Errorf("stats.fetch: %s: %w", m.Name, err)
		}
		if d == nil {
			s.out.Drop("statistic " + m.Name + ": name collides with an exporter family")
			return nil
		}
		s.Add(d, v, labels...)
		return nil
	})
}

// eachStat calls fn with each statistic, named "group.name". It asks
// "stats.fetch all", walked one member at a time (binrpc.Value.Each):
// thousands of statistics cost no member slice. ctl answers a struct larger
// than binrpc_struct_max_body_size (8 KB by default, a few hundred
// statistics) with 500 "Internal error", after building the whole struct
// and logging an error for each statistic that did not fit; then it asks
// "stats.get_statistics all", whose reply is an array of
// "group:name = value" strings, bound only by binrpc_max_body_size (32 KB),
// and keeps asking that for the rest of the Kamailio run (statsCalls).
// That reply has no fault for being too large: ctl leaves out, with an
// error in its log, each line that does not fit. So the number of
// statistics is learned once per run by reading them group by group (see
// statsComplete); a reply with fewer lines, or a fault, makes the
// collector read group by group for the rest of the run (see eachGroup).
// Any other fault is returned as it is.
func eachStat(ctx context.Context, c Caller, s *Sink, fn func(binrpc.Member) error) error {
	if !s.run.knows(statsFetchTooLarge) {
		st, err := callEncodedStruct(ctx, c, "stats.fetch", "all")
		if err == nil {
			return st.Each(fn)
		}
		if !tooLarge(err) {
			return err
		}
		s.run.learn(statsFetchTooLarge)
	}
	if !s.run.knows(statsAllIncomplete) {
		vals, err := c.Call(ctx, "stats.get_statistics", "all")
		if err != nil && !tooLarge(err) {
			return fmt.Errorf("stats.fetch all: too large for ctl; stats.get_statistics all: %w", err)
		}
		if err == nil {
			complete, err := statsComplete(ctx, c, s, len(vals))
			if err != nil {
				return err
			}
			if complete {
				return eachStatLine(vals, fn)
			}
		}
		s.run.learn(statsAllIncomplete)
		s.logger.Warn("stats.get_statistics all is incomplete (ctl's binrpc_max_body_size, default 32 KB): reading the statistics group by group until Kamailio restarts; raise modparam(\"ctl\", \"binrpc_max_body_size\", KB)",
			"lines", len(vals))
	}
	_, err := eachGroup(ctx, c, s, false, fn)
	return err
}

// The facts of a Kamailio run that choose how its statistics are read:
// statistics are declared at start-up, so they hold until a restart.
const (
	statsFetchTooLarge = "stats.fetch all: too large"
	statsAllIncomplete = "stats.get_statistics all: incomplete"
	statsCount         = "statistics"
)

// statsComplete reports whether n, the lines of a stats.get_statistics all
// reply, are all of Kamailio's statistics: at least as many as this run
// had, counted group by group at its first scrape. When a group could not
// be read whole, the count is not known, and n is not taken as complete.
func statsComplete(ctx context.Context, c Caller, s *Sink, n int) (bool, error) {
	want := s.run.number(statsCount)
	if want == 0 {
		whole, err := eachGroup(ctx, c, s, true, func(binrpc.Member) error {
			want++
			return nil
		})
		if err != nil || !whole {
			return false, err
		}
		s.run.setNumber(statsCount, max(want, n))
	}
	return n >= want, nil
}

// statsCalls are the stats.fetch collector's requests in run: stats.fetch
// all, stats.get_statistics all, or once the run has shown that neither
// holds every statistic, each group's (once the groups are known; the
// first scrape of a run reads them and the groups' sizes as it goes).
func statsCalls(_ *Settings, run *kamailioRun) []binrpc.Request {
	switch {
	case !run.knows(statsFetchTooLarge):
		return []binrpc.Request{{Method: "stats.fetch", Args: []any{"all"}}}
	case !run.knows(statsAllIncomplete):
		return []binrpc.Request{{Method: "stats.get_statistics", Args: []any{"all"}}}
	}
	var reqs []binrpc.Request
	for _, g := range run.statGroups() {
		reqs = append(reqs, groupRequests(run, g)...)
	}
	return reqs
}

// tooLarge reports whether err is ctl's answer to a reply that overflows
// its buffers: 500 "Internal error".
func tooLarge(err error) bool {
	var f *binrpc.FaultError
	return errors.As(err, &f) && f.Code == 500 && strings.Contains(strings.ToLower(f.Message), "internal")
}

// eachStatLine calls fn with each "group:name = value" string of a
// stats.get_statistics reply, as the member "group.name" of stats.fetch.
func eachStatLine(vals []binrpc.Value, fn func(binrpc.Member) error) error {
	for _, v := range vals {
		if v.Kind != binrpc.KindString {
			return fmt.Errorf("stats.get_statistics: want strings, got %s", shape(vals))
		}
		group, rest, ok1 := strings.Cut(v.Str, ":")
		i := strings.LastIndex(rest, " = ")
		if !ok1 || i < 0 {
			return fmt.Errorf("stats.get_statistics: %q is not \"group:name = value\"", v.Str)
		}
		if err := fn(binrpc.Named(group+"."+rest[:i], binrpc.String(rest[i+3:]))); err != nil {
			return err
		}
	}
	return nil
}

// statsGroupSuccessDesc says, when the statistics are read group by group,
// which groups could be read.
var statsGroupSuccessDesc = newDesc(namespace+"_stats_group_success",
	"Whether the statistics of a group could be read (1) or were too large for ctl's reply limits (0); present only when all statistics together are too large for one reply.",
	prometheus.GaugeValue, "group")

// knownStatGroups are the statistic groups of Kamailio 5.6 to 6.1, read one
// by one when Kamailio lists none (cnt.grps_list needs the counters module).
var knownStatGroups = []string{"core", "shmem", "tcp", "dns", "sctp", "sl", "tmx", "dialog", "registrar",
	"usrloc", "websocket", "pike", "siptrace", "tsilo", "mysql", "script", "uac", "nat_traversal", "imc",
	"cdp", "httpclient", "http_async_client", "msilo", "p_usrloc", "sipcapture", "snmpstats", "sst",
	"dialog_ng", "ims_auth", "ims_charging", "ims_icscf", "ims_isc", "ims_qos", "ims_registrar_pcscf",
	"ims_registrar_scscf", "ims_usrloc_pcscf", "ims_usrloc_scscf", "tls", "kafka"}

// eachGroup reads the statistics one group at a time (groupStats). A group
// that cannot be read whole is reported (log once per Kamailio run,
// kamailio_stats_group_success 0), exports nothing, and the others are
// kept. Quiet, it reports nothing (it counts for statsComplete). whole is
// false when a group could not be read.
func eachGroup(ctx context.Context, c Caller, s *Sink, quiet bool, fn func(binrpc.Member) error) (whole bool, err error) {
	groups, err := statGroups(ctx, c, s.run)
	if err != nil {
		return false, err
	}
	whole = true
	for _, g := range groups {
		n, unread, err := groupStats(ctx, c, s.run, g, fn)
		whole = whole && unread == ""
		switch {
		case err != nil:
			return false, err
		case quiet || n == 0 && unread == "": // a group of the list that this Kamailio lacks is empty
		case unread == "":
			s.Add(statsGroupSuccessDesc, 1, g)
		default:
			s.Add(statsGroupSuccessDesc, 0, g)
			s.warnOnce("stats group "+g, "statistics group not exported: "+unread, "group", g)
		}
	}
	return whole, nil
}

// Why a group is not exported (groupStats).
const (
	groupTooLarge = "too large for ctl's reply limits; raise modparam(\"ctl\", \"binrpc_max_body_size\", KB) (default 32)"
	groupCut      = "stats.get_statistics GROUP: came back short (ctl leaves out the lines past binrpc_max_body_size, without a fault); raise modparam(\"ctl\", \"binrpc_max_body_size\", KB) (default 32), or modparam(\"ctl\", \"binrpc_struct_max_body_size\", KB) (default 8) so that stats.fetch GROUP: fits"
	groupUnsure   = "too large for stats.fetch GROUP:, and without the counters module (cnt.var_list) a short stats.get_statistics GROUP: cannot be told from a whole one; load counters.so, or raise modparam(\"ctl\", \"binrpc_struct_max_body_size\", KB) (default 8)"
)

// statGroups returns the statistics groups of this Kamailio run: those
// cnt.grps_list lists when the counters module is loaded, else the groups
// of every release (knownStatGroups). Groups are declared at start-up: the
// list is read once per run.
func statGroups(ctx context.Context, c Caller, run *kamailioRun) ([]string, error) {
	if groups := run.statGroups(); groups != nil {
		return groups, nil
	}
	groups := knownStatGroups
	if run.has("cnt.grps_list") {
		vals, err := c.Call(ctx, "cnt.grps_list")
		if err != nil {
			return nil, fmt.Errorf("cnt.grps_list: %w", err)
		}
		var listed []string
		for _, v := range vals {
			if v.Kind == binrpc.KindString {
				listed = append(listed, strings.Clone(v.Str)) // kept for the run
			}
		}
		if len(listed) > 0 {
			groups = listed
		}
	}
	run.setStatGroups(groups)
	return groups, nil
}

// groupRequests are the requests that read group g (groupStats), given
// what this run has shown.
func groupRequests(run *kamailioRun, g string) []binrpc.Request {
	switch {
	case !run.knows(groupTooLargeKey(g)):
		return []binrpc.Request{{Method: "stats.fetch", Args: []any{g + ":"}}}
	case !run.has("cnt.var_list"):
		return nil // a reply that could not be checked: not asked
	}
	return []binrpc.Request{{Method: "stats.get_statistics", Args: []any{g + ":"}},
		{Method: "cnt.var_list", Args: []any{g}}}
}

// groupTooLargeKey is the fact that group g is too large for one struct
// (stats.fetch g: faults) in this Kamailio run.
func groupTooLargeKey(g string) string { return "stats.fetch " + g + ": too large" }

// groupStats reads the statistics of group g with "stats.fetch g:" or, for
// a group too large for one struct, "stats.get_statistics g:", which it
// then asks directly for the rest of the Kamailio run. ctl leaves out of
// that reply, without a fault, the lines past binrpc_max_body_size: the
// counters module's list of the group's names (cnt.var_list g, shorter
// than the lines, so whole whenever they are) tells whether any is
// missing; without that module the reply is not asked. It returns how many
// statistics it passed to fn, or why the group was not read (nothing
// passed to fn).
func groupStats(ctx context.Context, c Caller, run *kamailioRun, g string, fn func(binrpc.Member) error) (n int, unread string, err error) {
	tooLargeKey := groupTooLargeKey(g)
	if !run.knows(tooLargeKey) {
		vals, err := c.CallEncoded(ctx, "stats.fetch", g+":")
		if err == nil {
			for _, v := range vals {
				if v.Kind != binrpc.KindStruct {
					continue
				}
				err := v.Each(func(m binrpc.Member) error {
					n++
					return fn(m)
				})
				if err != nil {
					return 0, "", err
				}
			}
			return n, "", nil
		}
		if !tooLarge(err) {
			return 0, "", fmt.Errorf("stats.fetch %s: %w", g, err)
		}
		run.learn(tooLargeKey)
	}
	if !run.has("cnt.var_list") {
		// stats.get_statistics g: could come back short without a
		// word: not worth asking.
		return 0, strings.ReplaceAll(groupUnsure, "GROUP", g), nil
	}
	vals, err := c.Call(ctx, "stats.get_statistics", g+":")
	if tooLarge(err) {
		return 0, groupTooLarge, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("stats.get_statistics %s: %w", g, err)
	}
	names, err := c.Call(ctx, "cnt.var_list", g)
	if err != nil {
		return 0, "", fmt.Errorf("cnt.var_list %s: %w", g, err)
	}
	if len(vals) < len(names) {
		return 0, strings.ReplaceAll(groupCut, "GROUP", g), nil
	}
	return len(vals), "", eachStatLine(vals, fn)
}
