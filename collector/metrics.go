package collector

import (
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kamailio-exporter/kamailio_exporter/internal/blocks"
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
	// names are the label names sorted, as the exposition orders them;
	// order[i] is the index in labels of names[i].
	names []*string
	order []int
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
	d := &Desc{desc: prometheus.NewDesc(name, help, labels, nil), name: name, help: help, typ: typ, labels: labels}
	d.order = make([]int, len(labels))
	for i := range d.order {
		d.order[i] = i
	}
	slices.SortFunc(d.order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	for _, i := range d.order {
		d.names = append(d.names, &labels[i])
	}
	return d
}

// sample is one series built by a collector. It is the prometheus.Metric
// the exporter sends: its parts come from the scrape's arena and Write
// allocates nothing. A sample is immutable once added, so the Collects
// that share a round can write it concurrently.
type sample struct {
	desc   *Desc
	hash   uint64   // of the name and label values: equal series, equal hashes
	values []string // label values, in desc.labels order
	labels []*dto.LabelPair
	value  float64
	gauge  dto.Gauge
	count  dto.Counter
}

func (s *sample) Desc() *prometheus.Desc { return s.desc.desc }

func (s *sample) Write(m *dto.Metric) error {
	m.Label = s.labels
	switch s.desc.typ {
	case prometheus.CounterValue:
		m.Counter = &s.count
	case prometheus.GaugeValue:
		m.Gauge = &s.gauge
	default:
		m.Untyped = &dto.Untyped{Value: &s.value}
	}
	return nil
}

// key renders the series for a log message.
func (s *sample) key() string {
	var b strings.Builder
	b.WriteString(s.desc.name)
	sep := '{'
	for i, l := range s.desc.labels {
		fmt.Fprintf(&b, "%c%s=%q", sep, l, s.values[i])
		sep = ','
	}
	if len(s.values) > 0 {
		b.WriteByte('}')
	}
	return b.String()
}

// same reports whether s and o are the same series.
func (s *sample) same(o *sample) bool {
	return s.hash == o.hash && s.desc.name == o.desc.name && slices.Equal(s.values, o.values)
}

// hashSeed seeds the series hashes; all sinks must share it for merge.
var hashSeed = maphash.MakeSeed()

// arena hands out the parts of a scrape's samples in blocks, so that adding
// a sample allocates nothing of its own. It belongs to one scrape.
type arena struct {
	samples block[sample]
	pairs   block[dto.LabelPair]
	ptrs    []*dto.LabelPair
	values  []string
}

// block hands out Ts from chunks that are never copied (the protobuf
// messages in a sample must not be), each chunk twice the last, up to 4096.
type block[T any] struct{ chunk []T }

func (b *block[T]) next() *T {
	if len(b.chunk) == cap(b.chunk) {
		b.chunk = make([]T, 0, min(max(16, 2*cap(b.chunk)), 4096))
	}
	b.chunk = b.chunk[:len(b.chunk)+1]
	return &b.chunk[len(b.chunk)-1]
}

// carve returns n elements of *pool; new chunks double, from 64 to 8192.
func carve[T any](pool *[]T, n int) []T {
	return blocks.Carve(pool, n, min(max(64, 2*cap(*pool)), 8192))
}

// Sink collects one collector's samples during a scrape. Nothing reaches the
// exposition unless the collector returns without error, and a series it
// emits twice is kept once.
type Sink struct {
	logger  *slog.Logger
	descs   *descCache // nil: build descriptors every time
	arena   *arena
	samples []*sample
	seen    map[uint64]*sample // by hash: the first sample with that hash
	dropped []string           // series dropped as duplicates, for the log
}

func newSink(logger *slog.Logger, a *arena) *Sink {
	if a == nil {
		a = &arena{}
	}
	return &Sink{logger: logger, arena: a, seen: map[uint64]*sample{}}
}

// find returns the sample of s that is the same series as x, or nil.
func (s *Sink) find(x *sample) *sample {
	first, ok := s.seen[x.hash]
	if !ok {
		return nil
	}
	if first.same(x) {
		return first
	}
	for _, o := range s.samples { // a hash collision: look at them all
		if o.same(x) {
			return o
		}
	}
	return nil
}

func (s *Sink) insert(x *sample) {
	if _, ok := s.seen[x.hash]; !ok {
		s.seen[x.hash] = x
	}
	s.samples = append(s.samples, x)
}

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
	a := s.arena
	x := a.samples.next()
	x.desc, x.value = d, v
	var h maphash.Hash
	h.SetSeed(hashSeed)
	h.WriteString(d.name)
	if n := len(labelValues); n > 0 {
		x.values = carve(&a.values, n)
		for i, lv := range labelValues {
			if !utf8.ValidString(lv) {
				lv = strings.ToValidUTF8(lv, "\uFFFD")
			}
			x.values[i] = lv
			h.WriteByte(0)
			h.WriteString(lv)
		}
		x.labels = carve(&a.ptrs, n)
		for i, li := range d.order {
			p := a.pairs.next()
			p.Name, p.Value = d.names[i], &x.values[li]
			x.labels[i] = p
		}
	}
	x.hash = h.Sum64()
	if s.find(x) != nil {
		s.dropped = append(s.dropped, x.key())
		return // the arena's slots are wasted; duplicates are rare
	}
	switch d.typ {
	case prometheus.CounterValue:
		x.count.Value = &x.value
	case prometheus.GaugeValue:
		x.gauge.Value = &x.value
	}
	s.insert(x)
}

// merge appends the samples of o that are new to s. A family name that s
// already carries with another HELP, type or label set loses o's samples.
func (s *Sink) merge(o *Sink, families map[string]*Desc) {
	for _, x := range o.samples {
		if f, ok := families[x.desc.name]; ok && f != x.desc && !sameFamily(f, x.desc) {
			s.dropped = append(s.dropped, x.desc.name+": conflicts with an earlier family of that name")
			continue
		}
		if s.find(x) != nil {
			if !x.desc.shared {
				s.dropped = append(s.dropped, x.key())
			}
			continue
		}
		families[x.desc.name] = x.desc
		s.insert(x)
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
