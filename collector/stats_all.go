package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

// Every statistic that is neither curated nor scripted is exported as
//
//	kamailio_stats_<group>_<name>_total   (counter)
//	kamailio_stats_<group>_<name>         (gauge)
//
// lower-cased, with characters invalid in metric names replaced by '_'.
// Kamailio's statistics are counters unless they hold a current value; the
// gauges are listed in gaugeStats or recognised by gaugeStat's rules.

// gaugeStats are Kamailio's statistics that are not cumulative (current
// values, averages, high-water marks, configuration values), by
// "group.name": the gauges of testdata/stat_types.tsv, which gives the
// Kamailio source line behind each entry.
var gaugeStats = map[string]bool{
	"tcp.current_opened_connections":               true,
	"tcp.current_write_queue_size":                 true,
	"sctp.current_opened_connections":              true,
	"sctp.current_tracked_connections":             true,
	"cdp.queuelength":                              true,
	"cdp.average_response_time":                    true,
	"dialog.active_dialogs":                        true,
	"dialog.early_dialogs":                         true,
	"httpclient.connections":                       true,
	"imc.active_rooms":                             true,
	"ims_auth.mar_avg_response_time":               true,
	"ims_qos.active_registration_rx_sessions":      true,
	"ims_qos.registration_aar_avg_response_time":   true,
	"ims_qos.active_media_rx_sessions":             true,
	"ims_qos.media_aar_avg_response_time":          true,
	"ims_charging.active_ro_sessions":              true,
	"ims_charging.ccr_avg_response_time":           true,
	"dialog_ng.active":                             true,
	"dialog_ng.early":                              true,
	"ims_icscf.uar_avg_response_time":              true,
	"ims_icscf.lir_avg_response_time":              true,
	"ims_registrar_scscf.max_expires":              true,
	"ims_registrar_scscf.max_contacts":             true,
	"ims_registrar_scscf.default_expire":           true,
	"ims_registrar_scscf.default_expires_range":    true,
	"ims_registrar_scscf.sar_avg_response_time":    true,
	"ims_registrar_scscf.notifies_in_q":            true,
	"usrloc.registered_users":                      true,
	"p_usrloc.registered_users":                    true,
	"ims_usrloc_pcscf.registered_contacts":         true,
	"ims_usrloc_scscf.active_subscriptions":        true,
	"ims_usrloc_scscf.subscription_collisions":     true,
	"ims_usrloc_scscf.impu_collisions":             true,
	"ims_usrloc_scscf.contact_collisions":          true,
	"ims_usrloc_scscf.active_impus":                true,
	"ims_usrloc_scscf.active_contacts":             true,
	"nat_traversal.keepalive_endpoints":            true,
	"nat_traversal.registered_endpoints":           true,
	"nat_traversal.subscribed_endpoints":           true,
	"nat_traversal.dialog_endpoints":               true,
	"registrar.max_expires":                        true,
	"registrar.max_contacts":                       true,
	"registrar.default_expire":                     true,
	"registrar.default_expires_range":              true,
	"registrar.expires_range":                      true,
	"tls.opened_connections":                       true,
	"tls.max_connections":                          true,
	"tls.clear_text_write_queued_bytes":            true,
	"tmx.inuse_transactions":                       true,
	"tmx.active_transactions":                      true,
	"tsilo.stored_ruris":                           true,
	"tsilo.stored_transactions":                    true,
	"uac.regtotal":                                 true,
	"uac.regactive":                                true,
	"uac.regdisabled":                              true,
	"websocket.ws_current_connections":             true,
	"websocket.ws_max_concurrent_connections":      true,
	"websocket.ws_sip_current_connections":         true,
	"websocket.ws_sip_max_concurrent_connections":  true,
	"websocket.ws_msrp_current_connections":        true,
	"websocket.ws_msrp_max_concurrent_connections": true,
}

// gaugeStat tells whether a statistic holds a current value.
func gaugeStat(group, name string) bool {
	if gaugeStats[group+"."+name] || group == "shmem" {
		return true
	}
	n := strings.ToLower(name)
	switch {
	case strings.HasPrefix(n, "current_"), strings.Contains(n, "_current_"),
		strings.HasPrefix(n, "active_"), strings.HasPrefix(n, "inuse_"):
		return true
	case group == "usrloc" && (strings.HasSuffix(n, "users") || strings.HasSuffix(n, "contacts")):
		// usrloc.<table>_users / <table>-contacts: current registrations
		// (<table>_expires counts expired contacts).
		return true
	}
	return false
}

// statDesc builds the family of a generic statistic; nil when its name
// would collide with a static family.
func statDesc(key string) *page.Desc {
	group, name, ok := strings.Cut(key, ".")
	if !ok {
		group, name = "", key
	}
	base := namespace + "_stats_" + sanitizeName(strings.ToLower(group)) + "_" + sanitizeName(strings.ToLower(name))
	typ := prometheus.GaugeValue
	if !gaugeStat(group, name) {
		typ = prometheus.CounterValue
		if !strings.HasSuffix(base, "_total") {
			base += "_total"
		}
	}
	if reserved[base] {
		return nil
	}
	return page.NewDesc(base, "Kamailio statistic "+strings.ToValidUTF8(key, "?")+" (stats.fetch).", typ)
}

// rcvRepliesByMethodDesc folds core.rcv_replies_<class>_<method> into
// one family.
var rcvRepliesByMethodDesc = newDesc(namespace+"_stats_core_rcv_replies_by_method_total",
	"Kamailio statistics core.rcv_replies_<class>_<method>: received replies by code class and request method (stats.fetch).",
	prometheus.CounterValue, "class", "method")

// replyClassMethod splits "core.rcv_replies_<class>_<method>".
func replyClassMethod(key string) (class, method string, ok bool) {
	rest, ok := strings.CutPrefix(key, "core.rcv_replies_")
	if !ok {
		return "", "", false
	}
	class, method, ok = strings.Cut(rest, "_")
	if !ok || !isCode(class) || method == "" {
		return "", "", false
	}
	return class, method, true
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

// statsCalls is the stats.fetch collector's first request in run.
func statsCalls(_ *Settings, run *kamailioRun) []binrpc.Request {
	switch {
	case !run.knows(statsFetchTooLarge):
		return []binrpc.Request{{Method: "stats.fetch", Args: []any{"all"}}}
	case !run.knows(statsAllIncomplete):
		return []binrpc.Request{{Method: "stats.get_statistics", Args: []any{"all"}}}
	}
	return nil
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
	groups := knownStatGroups
	if vals, err := c.Call(ctx, "cnt.grps_list"); err == nil && len(vals) > 0 {
		groups = make([]string, 0, len(vals))
		for _, v := range vals {
			if v.Kind == binrpc.KindString {
				groups = append(groups, v.Str)
			}
		}
	} else if err != nil && !binrpc.IsMethodNotFound(err) {
		return false, fmt.Errorf("cnt.grps_list: %w", err)
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

// groupStats reads the statistics of group g with "stats.fetch g:" or, for
// a group too large for one struct, "stats.get_statistics g:", which it
// then asks directly for the rest of the Kamailio run. ctl leaves out of
// that reply, without a fault, the lines past binrpc_max_body_size: the
// counters module's list of the group's names (cnt.var_list g, shorter
// than the lines, so whole whenever they are) tells whether any is
// missing. It returns how many statistics it passed to fn, or why the
// group was not read (nothing passed to fn).
func groupStats(ctx context.Context, c Caller, run *kamailioRun, g string, fn func(binrpc.Member) error) (n int, unread string, err error) {
	tooLargeKey := "stats.fetch " + g + ": too large"
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
	vals, err := c.Call(ctx, "stats.get_statistics", g+":")
	if tooLarge(err) {
		return 0, groupTooLarge, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("stats.get_statistics %s: %w", g, err)
	}
	if !run.has("cnt.var_list") {
		return 0, strings.ReplaceAll(groupUnsure, "GROUP", g), nil
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
