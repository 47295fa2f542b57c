package collector

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// Every statistic that is neither curated nor scripted is exported as
//
//	kamailio_stats_<group>_<name>_total   (counter)
//	kamailio_stats_<group>_<name>         (gauge)
//
// lower-cased, with characters invalid in metric names replaced by '_'.
// Kamailio's statistics are counters unless they hold a current value; the
// gauges are listed in gaugeStats or recognised by gaugeStat's rules.

// gaugeStats are Kamailio's non-cumulative statistics (current values and
// configuration values), by "group.name".
var gaugeStats = map[string]bool{
	"dialog.active_dialogs":                   true,
	"dialog.early_dialogs":                    true,
	"registrar.default_expire":                true,
	"registrar.default_expires_range":         true,
	"registrar.expires_range":                 true,
	"registrar.max_contacts":                  true,
	"registrar.max_expires":                   true,
	"usrloc.registered_users":                 true,
	"tmx.active_transactions":                 true,
	"tmx.inuse_transactions":                  true,
	"pike.blocked_ips":                        true,
	"websocket.ws_current_connections":        true,
	"websocket.ws_max_concurrent_connections": true,
	"websocket.ws_sip_current_connections":    true,
	"websocket.ws_msrp_current_connections":   true,
	"tsilo.stored_ruris":                      true,
	"tsilo.stored_transactions":               true,
	"htable.items":                            true,
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

// statDesc builds the family of a generic statistic (key kept as d.stat,
// so not part of a reply: descCache.get clones it); nil when its name
// would collide with a static family.
func statDesc(key string) *Desc {
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
	d := makeDesc(base, "Kamailio statistic "+strings.ToValidUTF8(key, "?")+" (stats.fetch).", typ)
	d.stat = key
	return d
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

// statsGroups are fetched one request each when "stats.fetch all" is too
// large for ctl's struct size limit (binrpc_struct_max_body_size).
var statsGroups = []string{"core", "shmem", "tcp", "dns", "sl", "tmx", "dialog", "registrar", "usrloc",
	"websocket", "pike", "htable", "dispatcher", "siptrace", "tsilo", "mysql", "pgsql", "sanity", "script"}

// eachStat calls fn with each member of "stats.fetch all", or of one
// request per group when Kamailio cannot send them in one struct. The
// reply is walked one member at a time (binrpc.Value.Each): thousands of
// statistics cost no member slice.
func eachStat(ctx context.Context, c Caller, fn func(binrpc.Member) error) error {
	ctx = binrpc.WithLazyDepth(ctx, 0)
	vals, err := c.Call(ctx, "stats.fetch", "all")
	if err == nil {
		st, err := onlyStruct("stats.fetch", vals)
		if err != nil {
			return err
		}
		return st.Each(fn)
	}
	var f *binrpc.FaultError
	if !asFault(err, &f) || f.Code != 500 || !strings.Contains(strings.ToLower(f.Message), "internal") {
		return err
	}
	// ctl answers a reply that overflows its buffers with 500 "Internal
	// (server) error…": fall back to one request per group.
	for _, g := range statsGroups {
		vals, gerr := c.Call(ctx, "stats.fetch", g+":")
		if gerr != nil {
			return fmt.Errorf("stats.fetch all failed (%v); per group: %w", err, gerr)
		}
		for _, v := range vals {
			if v.Kind != binrpc.KindStruct {
				continue
			}
			if err := v.Each(fn); err != nil {
				return err
			}
		}
	}
	return nil
}
