// Package page holds the series of one scrape in a compact form and writes
// them in the text exposition format, as client_golang's registry and expfmt
// do for other exporters, at a fraction of their memory (BENCHMARKS.md,
// resident memory). The collectors add series while a scrape runs; Finish
// sorts and deduplicates them; the finished page is written as text
// (WriteText) or handed to promhttp as client_model families (Families).
package page

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Desc describes one metric family.
type Desc struct {
	// shared marks a family that more than one collector may fill with
	// the same series; the first sample wins and the others are expected.
	shared bool
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
	// order lists the indexes in labels in label name order, the order of
	// the exposition.
	order []int
}

// NewDesc returns the Desc of a family.
func NewDesc(name, help string, typ prometheus.ValueType, labels ...string) *Desc {
	d := &Desc{name: name, help: help, typ: typ, labels: labels}
	d.order = make([]int, len(labels))
	for i := range d.order {
		d.order[i] = i
	}
	slices.SortFunc(d.order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return d
}

// MarkShared marks d as a family that several collectors fill with the
// same series: the first sample of a series wins, quietly. It returns d.
func (d *Desc) MarkShared() *Desc {
	d.shared = true
	return d
}

// Name, Help, Type and Labels return what NewDesc was given.
func (d *Desc) Name() string               { return d.name }
func (d *Desc) Help() string               { return d.help }
func (d *Desc) Type() prometheus.ValueType { return d.typ }
func (d *Desc) Labels() []string           { return d.labels }

func sameFamily(a, b *Desc) bool {
	return a.help == b.help && a.typ == b.typ && slices.Equal(a.labels, b.labels)
}

// Page holds the series of one scrape in a compact form: 16 bytes per
// series plus its label values, which series with equal values added close
// together share (a dispatcher destination's ten families, for one). The
// collectors append to it while the scrape runs; Finish then sorts it into
// exposition order and removes duplicates. A finished page is immutable and
// may be written by several requests at once, until Release gives its
// buffers to the next page (Get).
type Page struct {
	// added holds the series in the order added, in chunks of chunkLen,
	// tail of them in the last: a slice grown one series at a time would
	// be copied again and again (BENCHMARKS.md, the large instance).
	// Finish sorts them into samples.
	added   [][]sample
	tail    int
	samples []sample
	descs   []*Desc // the families of the samples, by sample.desc
	// labels holds label value tuples: each value as a uvarint length and
	// its bytes, in the order of the family's sorted label names.
	labels  []byte
	recent  [4]span          // the last tuples added, candidates for sharing
	next    int              // the slot of recent replaced next
	dropped []string         // series dropped as invalid or duplicate, for the log
	index   map[*Desc]uint32 // the indexes in descs
	last    uint32           // the family added last
	// spare holds chunks of added that Finish emptied, for Add to fill
	// again once the page is released.
	spare [][]sample
}

// chunkLen is the number of series in a chunk of Page.added: 16 KiB.
const chunkLen = 1024

// span is a tuple's place in Page.labels.
type span struct{ off, end uint32 }

// sample is one series on a page: 16 bytes.
type sample struct {
	value float64
	desc  uint32 // index in Page.descs
	tuple uint32 // offset in Page.labels of the label values
}

// desc returns the family of x.
func (p *Page) desc(x *sample) *Desc { return p.descs[x.desc] }

// Add appends one series; values are in d's label order. A series with the
// wrong number of values, or whose label values would take the page past
// 4 GiB, is left out and listed in Dropped.
func (p *Page) Add(d *Desc, v float64, values ...string) {
	if len(values) != len(d.labels) {
		p.Drop(fmt.Sprintf("%s: %d label values for %d labels", d.name, len(values), len(d.labels)))
		return
	}
	labels := p.labels
	off := len(labels)
	for _, i := range d.order {
		lv := values[i]
		if !utf8.ValidString(lv) {
			lv = strings.ToValidUTF8(lv, "\uFFFD")
		}
		labels = binary.AppendUvarint(labels, uint64(len(lv)))
		labels = append(labels, lv...)
	}
	if len(labels) > math.MaxUint32 {
		p.Drop(d.name + ": the scrape's label values exceed 4 GiB")
		return
	}
	tuple := uint32(off)
	if len(values) > 0 {
		tuple, labels = p.share(labels, off)
	}
	p.labels = labels
	if len(p.added) == 0 || p.tail == chunkLen {
		p.added = append(p.added, p.chunk())
		p.tail = 0
	}
	p.added[len(p.added)-1][p.tail] = sample{value: v, desc: p.family(d), tuple: tuple}
	p.tail++
}

// chunk returns an empty chunk for added: a spare one, or a new one.
func (p *Page) chunk() []sample {
	if n := len(p.spare); n > 0 {
		c := p.spare[n-1]
		p.spare[n-1] = nil
		p.spare = p.spare[:n-1]
		return c
	}
	return make([]sample, chunkLen)
}

// Drop lists a series left out, for the log.
func (p *Page) Drop(why string) { p.dropped = append(p.dropped, why) }

// Dropped returns the series left out as invalid or, by Finish, as
// duplicates.
func (p *Page) Dropped() []string { return p.dropped }

// Len returns the number of series.
func (p *Page) Len() int { return p.addedLen() + len(p.samples) }

// addedLen returns the number of series added and not yet finished.
func (p *Page) addedLen() int {
	if len(p.added) == 0 {
		return 0
	}
	return (len(p.added)-1)*chunkLen + p.tail
}

// addedChunks returns the chunks of the series added, the last cut to
// its tail.
func (p *Page) addedChunks() [][]sample {
	if n := len(p.added); n > 0 {
		p.added[n-1] = p.added[n-1][:p.tail]
	}
	return p.added
}

// Descs returns the families added, those of series cut off again too.
func (p *Page) Descs() []*Desc { return p.descs }

// family returns the index of d in p.descs, adding it when new.
func (p *Page) family(d *Desc) uint32 {
	if len(p.descs) > 0 && p.descs[p.last] == d {
		return p.last
	}
	i, ok := p.index[d]
	if !ok {
		if p.index == nil {
			p.index = map[*Desc]uint32{}
		}
		i = uint32(len(p.descs))
		p.descs = append(p.descs, d)
		p.index[d] = i
	}
	p.last = i
	return i
}

// share returns the offset of an earlier tuple equal to the one just
// written to labels at off, and labels without that copy; or off and
// labels when there is none.
func (p *Page) share(labels []byte, off int) (uint32, []byte) {
	fresh := labels[off:]
	for _, r := range p.recent {
		if r.end > r.off && bytes.Equal(labels[r.off:r.end], fresh) {
			return r.off, labels[:off]
		}
	}
	p.recent[p.next] = span{uint32(off), uint32(len(labels))}
	p.next = (p.next + 1) % len(p.recent)
	return uint32(off), labels
}

// Mark is a page's length: its samples, label bytes and dropped series.
type Mark struct{ samples, labels, dropped int }

// Mark returns the page's length, to cut it back to with Truncate.
func (p *Page) Mark() Mark { return Mark{p.addedLen(), len(p.labels), len(p.dropped)} }

// Truncate cuts the page back to m: a failed collector's series leave it.
func (p *Page) Truncate(m Mark) {
	n := (m.samples + chunkLen - 1) / chunkLen
	clear(p.added[n:])
	p.added, p.tail = p.added[:n], m.samples-max(n-1, 0)*chunkLen
	p.labels, p.dropped = p.labels[:m.labels], p.dropped[:m.dropped]
	for i, r := range p.recent {
		if int(r.end) > m.labels {
			p.recent[i] = span{}
		}
	}
}

// value returns the label value at off and the offset after it.
func (p *Page) value(off int) ([]byte, int) {
	n, k := uint64(p.labels[off]), 1
	if n >= 0x80 { // a value of 128 bytes or more
		n, k = binary.Uvarint(p.labels[off:])
	}
	off += k
	return p.labels[off : off+int(n)], off + int(n)
}

// values returns the label values of x in desc.labels order.
func (p *Page) values(x *sample) []string {
	d := p.desc(x)
	out := make([]string, len(d.labels))
	off := int(x.tuple)
	for _, i := range d.order {
		var v []byte
		v, off = p.value(off)
		out[i] = string(v)
	}
	return out
}

// labelKey is what compareLabels reads of a series.
type labelKey struct{ tuple, labels uint32 }

func (p *Page) labelKey(x *sample) labelKey {
	return labelKey{x.tuple, uint32(len(p.desc(x).labels))}
}

// compareLabels orders series of one name by their label values in label
// name order.
func (p *Page) compareLabels(a, b *sample) int {
	na, nb := len(p.desc(a).labels), len(p.desc(b).labels)
	if a.tuple == b.tuple && na == nb {
		return 0
	}
	ia, ib := int(a.tuple), int(b.tuple)
	for range min(na, nb) {
		var va, vb []byte
		va, ia = p.value(ia)
		vb, ib = p.value(ib)
		if c := bytes.Compare(va, vb); c != 0 {
			return c
		}
	}
	return cmp.Compare(na, nb)
}

// Finish sorts the page into exposition order and keeps, of equal series,
// the one added first. A family whose name an earlier-added family with
// another HELP, type or label set carries loses its series. What is dropped
// is listed in Dropped, but series of shared families, which several
// collectors are expected to fill. It is called once, after the last Add.
func (p *Page) Finish() {
	// rank[i] orders the families by name; equal names, equal ranks.
	order := make([]int, len(p.descs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(p.descs[a].name, p.descs[b].name) })
	rank := make([]int, len(p.descs))
	for k, i := range order {
		rank[i] = k
		if k > 0 && p.descs[i].name == p.descs[order[k-1]].name {
			rank[i] = rank[order[k-1]]
		}
	}
	// By name (a counting sort, which keeps the order added), then each
	// name's series by label values.
	start := make([]int, len(p.descs)+1)
	chunks := p.addedChunks()
	for _, chunk := range chunks {
		for _, x := range chunk {
			start[rank[x.desc]+1]++
		}
	}
	for r := range len(p.descs) {
		start[r+1] += start[r]
	}
	sorted, next := slices.Grow(p.samples[:0], p.addedLen())[:p.addedLen()], slices.Clone(start)
	for _, chunk := range chunks {
		for _, x := range chunk {
			sorted[next[rank[x.desc]]] = x
			next[rank[x.desc]]++
		}
	}
	for _, c := range chunks {
		p.spare = append(p.spare, c[:chunkLen])
	}
	clear(p.added)
	p.added, p.tail = p.added[:0], 0
	var perm []int       // the order of the last name sorted
	var added []labelKey // that name's series, as compareLabels sees them
	var scratch []sample
	for r := range len(p.descs) {
		fam := sorted[start[r]:start[r+1]]
		if !slices.EqualFunc(fam, added, func(x sample, k labelKey) bool { return p.labelKey(&x) == k }) {
			// Not the series of the last name (families filled in one
			// loop, such as a destination's ten, are sorted once).
			added, perm = added[:0], perm[:0]
			for i := range fam {
				added, perm = append(added, p.labelKey(&fam[i])), append(perm, i)
			}
			slices.SortFunc(perm, func(a, b int) int { return cmp.Or(p.compareLabels(&fam[a], &fam[b]), a-b) })
		}
		scratch = append(scratch[:0], fam...)
		for k, i := range perm {
			fam[k] = scratch[i]
		}
	}
	p.samples = sorted
	// owner[r]: the family that owns name r, the first added of those
	// that kept series.
	owner := make([]uint32, len(p.descs))
	for i := range owner {
		owner[i] = math.MaxUint32
	}
	for _, x := range p.samples {
		owner[rank[x.desc]] = min(owner[rank[x.desc]], x.desc)
	}
	out := p.samples[:0]
	for _, x := range p.samples {
		d, f := p.desc(&x), owner[rank[x.desc]]
		if x.desc != f && !sameFamily(d, p.descs[f]) {
			p.Drop(d.name + ": conflicts with an earlier family of that name")
			continue
		}
		if n := len(out); n > 0 && rank[out[n-1].desc] == rank[x.desc] && p.compareLabels(&out[n-1], &x) == 0 {
			if !d.shared {
				p.Drop(p.key(&x))
			}
			continue
		}
		out = append(out, x)
	}
	p.samples = out
	clear(p.index)
}

// pages keeps the buffers of pages released after their scrape was
// written, for the next scrapes (BENCHMARKS.md, a fleet through /probe).
var pages = sync.Pool{New: func() any { return new(Page) }}

// Get returns an empty page: one released before, with its buffers, or a
// new one.
func Get() *Page { return pages.Get().(*Page) }

// Release empties p and keeps its buffers for Get. Nothing may use p, or
// anything it returned, afterwards.
func (p *Page) Release() {
	p.reset()
	pages.Put(p)
}

// reset empties p, keeping its buffers.
func (p *Page) reset() {
	for _, c := range p.addedChunks() {
		p.spare = append(p.spare, c[:chunkLen])
	}
	clear(p.added)
	clear(p.descs)
	clear(p.index)
	*p = Page{added: p.added[:0], samples: p.samples[:0], descs: p.descs[:0], labels: p.labels[:0],
		index: p.index, spare: p.spare}
}

// key renders a series for a log message, as the text format writes it.
func (p *Page) key(x *sample) string { return string(p.appendSeries(nil, x)) }

// appendSeries appends x's name and labels as the text format writes them.
func (p *Page) appendSeries(b []byte, x *sample) []byte {
	d := p.desc(x)
	b = append(b, d.name...)
	off := int(x.tuple)
	for l, li := range d.order {
		var v []byte
		v, off = p.value(off)
		b = appendLabel(b, l, d.labels[li], v)
	}
	if len(d.order) > 0 {
		b = append(b, '}')
	}
	return b
}

// Families returns the page's series as client_model families, for
// promhttp's other formats (protobuf). The text exposition does not need
// them (WriteText).
func (p *Page) Families() []*dto.MetricFamily {
	var out []*dto.MetricFamily
	for i := range p.samples {
		x := &p.samples[i]
		d := p.desc(x)
		if len(out) == 0 || out[len(out)-1].GetName() != d.name {
			out = append(out, &dto.MetricFamily{Name: &d.name, Help: &d.help, Type: d.typ.ToDTO()})
		}
		m, values := &dto.Metric{}, p.values(x)
		for _, i := range d.order {
			m.Label = append(m.Label, &dto.LabelPair{Name: &d.labels[i], Value: &values[i]})
		}
		switch v := &x.value; d.typ {
		case prometheus.CounterValue:
			m.Counter = &dto.Counter{Value: v}
		case prometheus.GaugeValue:
			m.Gauge = &dto.Gauge{Value: v}
		default:
			m.Untyped = &dto.Untyped{Value: v}
		}
		out[len(out)-1].Metric = append(out[len(out)-1].Metric, m)
	}
	return out
}

// WriteText writes the page in the text exposition format (0.0.4), merged
// by name with the families of others, which must be sorted by name as a
// Gatherer returns them. A family of others whose name the page carries is
// dropped. With keep non-nil, only the families it names are written. It
// returns what it dropped.
func (p *Page) WriteText(w *bufio.Writer, others []*dto.MetricFamily, keep map[string]bool) (dropped []string, err error) {
	var line []byte // a series line
	i := 0
	for i < len(p.samples) || len(others) > 0 {
		var name string
		var fam []sample
		if i < len(p.samples) {
			j := i + 1
			name = p.desc(&p.samples[i]).name
			for j < len(p.samples) && p.desc(&p.samples[j]).name == name {
				j++
			}
			fam = p.samples[i:j]
		}
		if len(others) > 0 && (fam == nil || others[0].GetName() < name) {
			if keep == nil || keep[others[0].GetName()] {
				if _, err := expfmt.MetricFamilyToText(w, others[0]); err != nil {
					return dropped, err
				}
			}
			others = others[1:]
			continue
		}
		i += len(fam)
		if len(others) > 0 && others[0].GetName() == name {
			dropped = append(dropped, name+": another family of that name is exported")
			others = others[1:]
		}
		if keep != nil && !keep[name] {
			continue
		}
		d := p.desc(&fam[0])
		w.WriteString("# HELP ")
		w.WriteString(name)
		w.WriteByte(' ')
		helpEscaper.WriteString(w, d.help)
		w.WriteString("\n# TYPE ")
		w.WriteString(name)
		w.WriteByte(' ')
		w.WriteString(typeName(d.typ))
		w.WriteByte('\n')
		for k := range fam {
			x := &fam[k]
			line = append(appendFloat(append(p.appendSeries(line[:0], x), ' '), x.value), '\n')
			if _, err := w.Write(line); err != nil {
				return dropped, err
			}
		}
	}
	return dropped, w.Flush()
}

// appendLabel appends the i-th label pair of a series line, opening the
// braces before the first.
func appendLabel(b []byte, i int, name string, value []byte) []byte {
	sep := byte(',')
	if i == 0 {
		sep = '{'
	}
	b = append(append(b, sep), name...)
	b = append(b, `="`...)
	for _, c := range value {
		if c == '\\' || c == '\n' || c == '"' {
			return append(append(b, labelEscaper.Replace(string(value))...), '"')
		}
	}
	return append(append(b, value...), '"')
}

// The text format escapes backslash and newline, and in a label value the
// double quote.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// appendFloat formats a sample value as expfmt does, which writes -0 as 0
// ('g' writes an integer below 1e6 in full).
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(b, '0')
	case f == math.Trunc(f) && f > -1e6 && f < 1e6:
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func typeName(t prometheus.ValueType) string {
	switch t {
	case prometheus.CounterValue:
		return "counter"
	case prometheus.GaugeValue:
		return "gauge"
	}
	return "untyped"
}
