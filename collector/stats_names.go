package collector

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

// The names and types of Kamailio's statistics (stats.fetch "group.name"),
// from which the reading half of the collector (stats.go) takes each
// statistic's family; nothing here reads a reply.
//
// A statistic of the reference exporter's goes to its curated family
// (curatedStat); a scripted one (group script) to kamailio_<name>
// (scriptDesc); every other one, with --collector.stats.fetch.all, to
//
//	kamailio_stats_<group>_<name>_total   (counter)
//	kamailio_stats_<group>_<name>         (gauge)
//
// lower-cased, with characters invalid in metric names replaced by '_'
// (statDesc). Its type is the one stat_types.tsv gives it, the table of
// every statistic of Kamailio 5.5 to 6.1 with the source line that
// justifies its type; rules on the name type only the statistics the table
// does not know (gaugeStat).

// The curated stats.fetch families of the reference exporter, with its
// names, types, labels and HELP texts.
var (
	coreRequestDesc    = newDesc(namespace+"_core_request_total", "Request counters", prometheus.CounterValue, "method")
	coreRcvRequestDesc = newDesc(namespace+"_core_rcv_request_total", "Received requests by method", prometheus.CounterValue, "method")
	coreReplyDesc      = newDesc(namespace+"_core_reply_total", "Reply counters", prometheus.CounterValue, "type")
	coreRcvReplyDesc   = newDesc(namespace+"_core_rcv_reply_total", "Received replies by code", prometheus.CounterValue, "code")
	dnsFailedDesc      = newDesc(namespace+"_dns_failed_request_total", "Failed dns requests", prometheus.CounterValue)
	badURIDesc         = newDesc(namespace+"_bad_uri_total", "Messages with bad uri", prometheus.CounterValue)
	badMsgHdrDesc      = newDesc(namespace+"_bad_msg_hdr", "Messages with bad message header", prometheus.CounterValue)
	slReplyDesc        = newDesc(namespace+"_sl_reply_total", "Stateless replies by code", prometheus.CounterValue, "code")
	slTypeDesc         = newDesc(namespace+"_sl_type_total", "Stateless replies by type", prometheus.CounterValue, "type")
	tcpTotalDesc       = newDesc(namespace+"_tcp_total", "TCP connection counters", prometheus.CounterValue, "type")
	tcpConnectionsDesc = newDesc(namespace+"_tcp_connections", "Opened TCP connections", prometheus.GaugeValue)
	tcpWriteQueueDesc  = newDesc(namespace+"_tcp_writequeue", "TCP write queue size", prometheus.GaugeValue)
	tmxCodeDesc        = newDesc(namespace+"_tmx_code_total", "Completed Transaction counters by code", prometheus.CounterValue, "code")
	tmxTypeDesc        = newDesc(namespace+"_tmx_type_total", "Completed Transaction counters by type", prometheus.CounterValue, "type")
	tmxDesc            = newDesc(namespace+"_tmx", "Ongoing Transactions", prometheus.GaugeValue, "type")
	tmxRplDesc         = newDesc(namespace+"_tmx_rpl_total", "Tmx reply counters", prometheus.CounterValue, "type")
	// The reference types this family as a counter although active and
	// early dialogs are current values; kept for compatibility.
	dialogDesc = newDesc(namespace+"_dialog", "Ongoing Dialogs", prometheus.CounterValue, "type")
)

// statSeries is where one statistic goes: a family and its label value
// ("" for families without labels).
type statSeries struct {
	desc  *page.Desc
	label string
}

// curatedStats maps stats.fetch keys to the reference exporter's series.
var curatedStats = func() map[string]statSeries {
	m := map[string]statSeries{
		"core.drop_requests":             {coreRequestDesc, "drop"},
		"core.err_requests":              {coreRequestDesc, "err"},
		"core.fwd_requests":              {coreRequestDesc, "fwd"},
		"core.rcv_requests":              {coreRequestDesc, "rcv"},
		"core.unsupported_methods":       {coreRcvRequestDesc, "unsupported"},
		"core.drop_replies":              {coreReplyDesc, "drop"},
		"core.err_replies":               {coreReplyDesc, "err"},
		"core.fwd_replies":               {coreReplyDesc, "fwd"},
		"core.rcv_replies":               {coreReplyDesc, "rcv"},
		"shmem.free_size":                {shmBytesDesc, "free"},
		"shmem.max_used_size":            {shmBytesDesc, "max_used"},
		"shmem.real_used_size":           {shmBytesDesc, "real_used"},
		"shmem.total_size":               {shmBytesDesc, "total"},
		"shmem.used_size":                {shmBytesDesc, "used"},
		"shmem.fragments":                {shmFragmentsDesc, ""},
		"dns.failed_dns_request":         {dnsFailedDesc, ""},
		"core.bad_URIs_rcvd":             {badURIDesc, ""},
		"core.bad_msg_hdr":               {badMsgHdrDesc, ""},
		"sl.failures":                    {slTypeDesc, "failure"},
		"sl.received_ACKs":               {slTypeDesc, "received_ack"},
		"sl.sent_err_replies":            {slTypeDesc, "sent_err_reply"},
		"sl.sent_replies":                {slTypeDesc, "sent_reply"},
		"sl.xxx_replies":                 {slTypeDesc, "xxx_reply"},
		"tcp.current_opened_connections": {tcpConnectionsDesc, ""},
		"tcp.current_write_queue_size":   {tcpWriteQueueDesc, ""},
		"tmx.UAC_transactions":           {tmxTypeDesc, "uac"},
		"tmx.UAS_transactions":           {tmxTypeDesc, "uas"},
		"tmx.active_transactions":        {tmxDesc, "active"},
		"tmx.inuse_transactions":         {tmxDesc, "inuse"},
		// 6.x's tls group repeats tls.info: one family for each value.
		"tls.max_connections":               {tlsMaxConnectionsDesc, ""},
		"tls.opened_connections":            {tlsOpenedDesc, ""},
		"tls.clear_text_write_queued_bytes": {tlsClearTextQueuedDesc, ""},
	}
	for _, code := range []string{"1xx", "200", "202", "2xx", "300", "301", "302", "3xx", "400", "401",
		"403", "404", "407", "408", "483", "4xx", "500", "5xx", "6xx"} {
		m["sl."+code+"_replies"] = statSeries{slReplyDesc, code}
	}
	for _, t := range []string{"con_reset", "con_timeout", "connect_failed", "connect_success",
		"established", "local_reject", "passive_open", "send_timeout", "sendq_full"} {
		m["tcp."+t] = statSeries{tcpTotalDesc, t}
	}
	for _, code := range []string{"2xx", "3xx", "4xx", "5xx", "6xx"} {
		m["tmx."+code+"_transactions"] = statSeries{tmxCodeDesc, code}
	}
	for _, t := range []string{"absorbed", "generated", "received", "relayed", "sent"} {
		m["tmx.rpl_"+t] = statSeries{tmxRplDesc, t}
	}
	for _, t := range []string{"active_dialogs", "early_dialogs", "expired_dialogs", "failed_dialogs", "processed_dialogs"} {
		m["dialog."+t] = statSeries{dialogDesc, t}
	}
	return m
}()

// curatedStat returns the reference family of a statistic. Besides the
// fixed names, every core.rcv_requests_<method> is a method of
// kamailio_core_rcv_request_total and every core.rcv_replies_<code> a code
// of kamailio_core_rcv_reply_total, so that one query works on every
// release (6.0 added 23 codes, 6.1 the kdmq method).
func curatedStat(name string) (statSeries, bool) {
	if st, ok := curatedStats[name]; ok {
		return st, true
	}
	if code, ok := strings.CutPrefix(name, "core.rcv_replies_"); ok && isCode(code) {
		return statSeries{coreRcvReplyDesc, code}, true
	}
	if method, ok := strings.CutPrefix(name, "core.rcv_requests_"); ok && method != "" {
		return statSeries{coreRcvRequestDesc, method}, true
	}
	return statSeries{}, false
}

// statFamily returns the family and label values of the statistic
// "group.name": a reference family, a scripted one, or (with all) a
// generic one; ok is false when the statistic is not exported, and d nil
// when its name collides with a static family.
func statFamily(name string, all bool, descs *descCache) (d *page.Desc, labels []string, ok bool) {
	if series, ok := curatedStat(name); ok {
		if series.label == "" {
			return series.desc, nil, true
		}
		return series.desc, []string{series.label}, true
	}
	if script, ok := strings.CutPrefix(name, "script."); ok {
		return descs.get(descKey{script: true, name: script}, scriptDesc), nil, true
	}
	if !all {
		return nil, nil, false
	}
	if class, method, ok := replyClassMethod(name); ok {
		return rcvRepliesByMethodDesc, []string{class, method}, true
	}
	return descs.get(descKey{name: name}, statDesc), nil, true
}

// StatisticSeries tells under which series the statistic "group.name" (as
// stats.fetch names it) is exported with --kamailio.all-statistics: its
// family and labels; ok is false when it is not exported.
func StatisticSeries(name string) (family string, labels map[string]string, ok bool) {
	d, values, ok := statFamily(name, true, nil)
	if !ok || d == nil {
		return "", nil, false
	}
	labels = make(map[string]string, len(values))
	for i, v := range values {
		labels[d.Labels()[i]] = v
	}
	return d.Name(), labels, true
}

// scriptDesc builds the family of a scripted statistic (statistics module
// variable): kamailio_<lowercase name>, sanitised; a counter when the name
// ends in _total, _seconds or _bytes, else a gauge. It returns nil when the
// name would collide with a static family.
func scriptDesc(name string) *page.Desc {
	lower := strings.ToLower(name)
	metric := namespace + "_" + sanitizeName(lower)
	if reserved[metric] {
		return nil
	}
	typ := prometheus.GaugeValue
	if strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_seconds") || strings.HasSuffix(name, "_bytes") {
		typ = prometheus.CounterValue
	}
	return page.NewDesc(metric, "Scripted metric "+lower, typ)
}

//go:embed stat_types.tsv
var statTypesTable string

// statTypes are the types of stat_types.tsv, by "group.name": true for a
// gauge. statTypePatterns are its rows whose names hold a part named by
// the configuration, written * (a usrloc table, say).
var statTypes, statTypePatterns = parseStatTypes(statTypesTable)

// statPattern is a row of stat_types.tsv with a * in its name.
type statPattern struct {
	parts []string // the name split at each *
	gauge bool
}

// parseStatTypes reads stat_types.tsv: "statistic TAB type TAB source TAB
// releases" rows under a header, # comments. It panics on a row that is
// not so: the table is part of the program.
func parseStatTypes(table string) (map[string]bool, []statPattern) {
	exact := map[string]bool{}
	var patterns []statPattern
	for i, line := range strings.Split(table, "\n") {
		f := strings.Split(line, "\t")
		if line == "" || strings.HasPrefix(line, "#") || f[0] == "statistic" {
			continue
		}
		if len(f) != 4 || f[1] != "gauge" && f[1] != "counter" {
			panic(fmt.Sprintf("stat_types.tsv:%d: not \"statistic TAB gauge|counter TAB source TAB releases\": %q", i+1, line))
		}
		gauge := f[1] == "gauge"
		if strings.Contains(f[0], "*") {
			patterns = append(patterns, statPattern{strings.Split(f[0], "*"), gauge})
		} else {
			exact[f[0]] = gauge
		}
	}
	return exact, patterns
}

// matches reports whether key is p's name with each * replaced by some text.
func (p statPattern) matches(key string) bool {
	rest, ok := strings.CutPrefix(key, p.parts[0])
	if !ok {
		return false
	}
	for i, part := range p.parts[1:] {
		if i == len(p.parts)-2 {
			return strings.HasSuffix(rest, part) && len(rest) >= len(part)
		}
		j := strings.Index(rest, part)
		if j < 0 {
			return false
		}
		rest = rest[j+len(part):]
	}
	return true
}

// gaugeStat tells whether the statistic group.name holds a current value:
// as stat_types.tsv says; for a statistic the table does not know (a group
// of the counters module, say), when its name says so (current_, active_,
// inuse_, _current_), else it is a counter.
func gaugeStat(group, name string) bool {
	key := group + "." + name
	if gauge, ok := statTypes[key]; ok {
		return gauge
	}
	for _, p := range statTypePatterns {
		if p.matches(key) {
			return p.gauge
		}
	}
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "current_") || strings.Contains(n, "_current_") ||
		strings.HasPrefix(n, "active_") || strings.HasPrefix(n, "inuse_")
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

// sanitizeName turns s into a valid Prometheus metric name fragment:
// every character outside [a-zA-Z0-9_:] becomes '_'.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			b[i] = '_'
		}
	}
	return string(b)
}
