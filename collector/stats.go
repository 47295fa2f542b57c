package collector

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

// The curated stats.fetch families of the reference exporter, with its
// names, types, labels and HELP texts.
var (
	coreRequestDesc    = newDesc(namespace+"_core_request_total", "Request counters", prometheus.CounterValue, "method")
	coreRcvRequestDesc = newDesc(namespace+"_core_rcv_request_total", "Received requests by method", prometheus.CounterValue, "method")
	coreReplyDesc      = newDesc(namespace+"_core_reply_total", "Reply counters", prometheus.CounterValue, "type")
	coreRcvReplyDesc   = newDesc(namespace+"_core_rcv_reply_total", "Received replies by code", prometheus.CounterValue, "code")
	// Also filled by core.shmmem: the first sample of a series wins.
	shmBytesDesc       = newDesc(namespace+"_shm_bytes", "Shared memory sizes", prometheus.GaugeValue, "type").MarkShared()
	shmFragmentsDesc   = newDesc(namespace+"_shm_fragments", "Shared memory fragment count", prometheus.GaugeValue).MarkShared()
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

// descCache keeps the descriptors built from Kamailio's statistic names
// between scrapes of one exporter. It is safe for concurrent scrapes and
// bounded: past maxCachedDescs names it stops caching. A lookup does not
// allocate.
type descCache struct {
	mu sync.RWMutex
	m  map[descKey]*page.Desc // nil: the name collides with a static family
}

// descKey names a cached descriptor: a statistic, or a scripted one.
type descKey struct {
	script bool
	name   string
}

const maxCachedDescs = 100000

// get returns the descriptor of k, built by build(k.name) on first use.
// build gets the name cloned, for k.name is a substring of a reply that the
// cache and the descriptor outlive: the key and the descriptor share it.
func (c *descCache) get(k descKey, build func(string) *page.Desc) *page.Desc {
	if c != nil {
		c.mu.RLock()
		d, ok := c.m[k]
		c.mu.RUnlock()
		if ok {
			return d
		}
	}
	k.name = strings.Clone(k.name)
	d := build(k.name)
	if c == nil {
		return d
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[descKey]*page.Desc{}
	}
	if len(c.m) < maxCachedDescs {
		c.m[k] = d
	}
	c.mu.Unlock()
	return d
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
