package collector

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "kamailio"

// Desc describes one metric family the exporter emits.
type Desc struct {
	// shared marks a family that more than one collector may fill with
	// the same series; the first sample wins and the others are expected.
	shared bool
	desc   *prometheus.Desc
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
}

// reserved holds the names of all static families. It is written only
// while package-level variables initialise and is read-only afterwards, so
// names built from Kamailio data can be checked against it without locks.
var reserved = map[string]bool{}

// newDesc declares a static family. Call it only from package-level var
// declarations.
func newDesc(name, help string, typ prometheus.ValueType, labels ...string) *Desc {
	if reserved[name] {
		panic("collector: family declared twice: " + name)
	}
	reserved[name] = true
	return makeDesc(name, help, typ, labels...)
}

func makeDesc(name, help string, typ prometheus.ValueType, labels ...string) *Desc {
	return &Desc{desc: prometheus.NewDesc(name, help, labels, nil), name: name, help: help, typ: typ, labels: labels}
}

// sample is one series built by a collector, with its identity.
type sample struct {
	key    string // name and label values: equal keys are the same series
	desc   *Desc
	metric prometheus.Metric
}

// Sink collects one collector's samples during a scrape. Nothing reaches the
// exposition unless the collector returns without error, and a series it
// emits twice is kept once.
type Sink struct {
	logger  *slog.Logger
	descs   *descCache // nil: build descriptors every time
	samples []sample
	seen    map[string]struct{}
	dropped []string // series dropped as duplicates, for the log
}

func newSink(logger *slog.Logger) *Sink { return &Sink{logger: logger, seen: map[string]struct{}{}} }

// descCache keeps the descriptors built from Kamailio's statistic names
// between scrapes of one exporter. It is safe for concurrent scrapes and
// bounded: past maxCachedDescs names it stops caching. A lookup does not
// allocate.
type descCache struct {
	mu sync.RWMutex
	m  map[descKey]*Desc // nil: the name collides with a static family
}

// descKey names a cached descriptor: a statistic, or a scripted one.
type descKey struct {
	script bool
	name   string
}

const maxCachedDescs = 100000

// get returns the descriptor of k, built by build(k.name) on first use.
func (c *descCache) get(k descKey, build func(string) *Desc) *Desc {
	if c == nil {
		return build(k.name)
	}
	c.mu.RLock()
	d, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return d
	}
	d = build(k.name)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[descKey]*Desc{}
	}
	if len(c.m) < maxCachedDescs {
		// Cloned: the name is a substring of a reply the cache outlives.
		k.name = strings.Clone(k.name)
		c.m[k] = d
	}
	c.mu.Unlock()
	return d
}

// Add records one sample of d with the given label values.
func (s *Sink) Add(d *Desc, v float64, labelValues ...string) {
	if len(labelValues) != len(d.labels) {
		// A programming error: report it through the scrape rather than panic.
		s.dropped = append(s.dropped, fmt.Sprintf("%s: %d label values for %d labels", d.name, len(labelValues), len(d.labels)))
		return
	}
	var kb strings.Builder
	kb.WriteString(d.name)
	copied := false
	for i, lv := range labelValues {
		if !utf8.ValidString(lv) {
			if !copied {
				labelValues, copied = slices.Clone(labelValues), true
			}
			lv = strings.ToValidUTF8(lv, "\uFFFD")
			labelValues[i] = lv
		}
		kb.WriteByte(0)
		kb.WriteString(lv)
	}
	key := kb.String()
	if _, dup := s.seen[key]; dup {
		s.dropped = append(s.dropped, key)
		return
	}
	m, err := prometheus.NewConstMetric(d.desc, d.typ, v, labelValues...)
	if err != nil {
		s.dropped = append(s.dropped, d.name+": "+err.Error())
		return
	}
	s.seen[key] = struct{}{}
	s.samples = append(s.samples, sample{key: key, desc: d, metric: m})
}

// merge appends the samples of o that are new to s. A family name that s
// already carries with another HELP, type or label set loses o's samples.
func (s *Sink) merge(o *Sink, families map[string]*Desc) {
	for _, smp := range o.samples {
		if f, ok := families[smp.desc.name]; ok && f != smp.desc && !sameFamily(f, smp.desc) {
			s.dropped = append(s.dropped, smp.desc.name+": conflicts with an earlier family of that name")
			continue
		}
		if _, dup := s.seen[smp.key]; dup {
			if !smp.desc.shared {
				s.dropped = append(s.dropped, smp.key)
			}
			continue
		}
		families[smp.desc.name] = smp.desc
		s.seen[smp.key] = struct{}{}
		s.samples = append(s.samples, smp)
	}
	s.dropped = append(s.dropped, o.dropped...)
}

func sameFamily(a, b *Desc) bool {
	if a.help != b.help || a.typ != b.typ || len(a.labels) != len(b.labels) {
		return false
	}
	for i := range a.labels {
		if a.labels[i] != b.labels[i] {
			return false
		}
	}
	return true
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
