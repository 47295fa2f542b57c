package collector

import (
	"log/slog"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

const namespace = "kamailio"

// The families that more than one collector fills. A scrape keeps one
// sample per series: the collector earlier in the order wins.
var (
	// stats.fetch's shmem group, and core.shmmem.
	shmBytesDesc     = newDesc(namespace+"_shm_bytes", "Shared memory sizes", prometheus.GaugeValue, "type").MarkShared()
	shmFragmentsDesc = newDesc(namespace+"_shm_fragments", "Shared memory fragment count", prometheus.GaugeValue).MarkShared()
	// core.tcp_info, tls.info and 6.x's stats.fetch (group tls): one
	// family, one HELP (the reference exporter declared it twice and
	// failed every scrape when tls was loaded).
	tlsMaxConnectionsDesc = newDesc(namespace+"_tls_max_connections",
		"TLS connection limit", prometheus.GaugeValue).MarkShared()
	// tls.info and 6.x's stats.fetch (group tls).
	tlsOpenedDesc = newDesc(namespace+"_tls_opened_connections",
		"TLS Opened Connections", prometheus.GaugeValue).MarkShared()
	tlsClearTextQueuedDesc = newDesc(namespace+"_tls_clear_text_write_queued_bytes",
		"Bytes of clear text queued in all TLS connections, waiting to be encrypted and sent (while a handshake is in progress).", prometheus.GaugeValue).MarkShared()
)

// reserved holds the names of all static families. It is written only
// while package-level variables initialise and is read-only afterwards, so
// names built from Kamailio data can be checked against it without locks.
var reserved = map[string]bool{}

// newDesc declares a static family. Call it only from package-level var
// declarations.
func newDesc(name, help string, typ prometheus.ValueType, labels ...string) *page.Desc {
	if reserved[name] {
		panic("collector: family declared twice: " + name)
	}
	reserved[name] = true
	return page.NewDesc(name, help, typ, labels...)
}

// Sink collects one collector's samples during a scrape, into the scrape's
// page. Nothing reaches the exposition unless the collector returns without
// error: a failed collector's samples are cut off the page again.
type Sink struct {
	logger *slog.Logger
	descs  *descCache   // nil: build descriptors every time
	run    *kamailioRun // the exporter's, or one of the sink's own
	out    *page.Page
	start  page.Mark // the page when the collector started
}

// warnOnce logs msg as a warning the first time key is seen in this
// Kamailio run.
func (s *Sink) warnOnce(key, msg string, attrs ...any) { s.run.warnOnce(s.logger, key, msg, attrs...) }

func newSink(logger *slog.Logger, p *page.Page) *Sink {
	if p == nil {
		p = &page.Page{}
	}
	return &Sink{logger: logger, run: &kamailioRun{}, out: p, start: p.Mark()}
}

// discard removes everything the sink added from its page.
func (s *Sink) discard() { s.out.Truncate(s.start) }

// Add records one sample of d with the given label values.
func (s *Sink) Add(d *page.Desc, v float64, labelValues ...string) { s.out.Add(d, v, labelValues...) }

// statDescs keeps the descriptors built from Kamailio's statistic names for
// every exporter of the process: a descriptor depends on the name alone, and
// the targets of /probe mostly share their names, so one copy serves them
// all (BENCHMARKS.md, a fleet through /probe: resident memory per target).
var statDescs descCache

// descCache keeps the descriptors built from Kamailio's statistic names
// between scrapes. It is safe for concurrent scrapes and bounded: past
// maxCachedDescs names it stops caching. A lookup does not allocate.
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
