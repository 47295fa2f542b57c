package page

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// referenceFinish is what Finish computes, written the plain way: one
// stable sort of all series by name and label values, then, per name, the
// conflicting families and the repeated series dropped. It returns the
// series as text and what it dropped.
func referenceFinish(p *Page) (series, dropped []string) {
	samples := slices.Concat(p.addedChunks()...)
	slices.SortStableFunc(samples, func(a, b sample) int { return p.compareSeries(&a, &b) })
	var out []sample
	for i := 0; i < len(samples); {
		name := p.desc(&samples[i]).name
		j := i + 1
		for j < len(samples) && p.desc(&samples[j]).name == name {
			j++
		}
		first := samples[i].desc
		for _, x := range samples[i+1 : j] {
			first = min(first, x.desc)
		}
		kept := len(out)
		for _, x := range samples[i:j] {
			d := p.desc(&x)
			if x.desc != first && !sameFamily(d, p.descs[first]) {
				dropped = append(dropped, name+": conflicts with an earlier family of that name")
				continue
			}
			if len(out) > kept && p.compareSeries(&out[len(out)-1], &x) == 0 {
				if !d.shared {
					dropped = append(dropped, p.key(&x))
				}
				continue
			}
			out = append(out, x)
		}
		i = j
	}
	return pageSeries(p, out), dropped
}

func pageSeries(p *Page, samples []sample) []string {
	var out []string
	for i := range samples {
		out = append(out, fmt.Sprintf("%s %g (%s)", p.key(&samples[i]), samples[i].value, p.desc(&samples[i]).help))
	}
	return out
}

// Finish gives what one stable sort of all series gives, on random pages:
// families that share a name (conflicting or alike), shared families,
// repeated series, discarded collectors, families in changing order.
func TestFinishMatchesSort(t *testing.T) {
	shared := NewDesc("kamailio_b_shared", "shared", prometheus.GaugeValue, "type")
	shared.shared = true
	pool := []*Desc{
		NewDesc("kamailio_c", "c", prometheus.GaugeValue),
		NewDesc("kamailio_a_total", "a", prometheus.CounterValue, "method"),
		NewDesc("kamailio_a_total", "a", prometheus.CounterValue, "method"), // alike, another Desc
		NewDesc("kamailio_a_total", "other help", prometheus.CounterValue, "method"),
		NewDesc("kamailio_d", "d", prometheus.GaugeValue, "z", "b", "m"),
		NewDesc("kamailio_d", "d", prometheus.GaugeValue, "z"), // other labels
		shared,
		NewDesc("kamailio_b", "b", prometheus.GaugeValue),
		NewDesc("kamailio_e", "e", prometheus.GaugeValue, "x", "y"),
		NewDesc("kamailio_aa", "aa", prometheus.GaugeValue),
	}
	rng := rand.New(rand.NewPCG(7, 11))
	fill := func(p *Page, order []*Desc, n int) {
		start := p.Mark()
		for k := range n {
			if rng.IntN(40) == 0 { // a collector failed
				p.Truncate(start)
				start = p.Mark()
			}
			d := order[k%len(order)]
			if k >= len(order) && rng.IntN(3) == 0 {
				d = order[rng.IntN(len(order))]
			}
			values := make([]string, len(d.labels))
			for i := range values {
				values[i] = strings.Repeat(string(rune('a'+rng.IntN(3))), []int{1, 1, 127, 128, 300}[rng.IntN(5)])
			}
			p.Add(d, float64(k), values...)
		}
	}
	p := &Page{} // reset after each round: a page's buffers serve the next
	for round := range 1500 {
		order := slices.Clone(pool[:1+rng.IntN(len(pool))])
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		n := rng.IntN(60)
		if round%100 == 0 {
			n = 3 * chunkLen // across chunks
		}
		fill(p, order, n)
		want, wantDropped := referenceFinish(p)
		p.Finish()
		if got := pageSeries(p, p.samples); !slices.Equal(got, want) {
			t.Fatalf("round %d: series\n%s\nwant\n%s", round, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !slices.Equal(p.dropped, wantDropped) {
			t.Fatalf("round %d: dropped %q, want %q", round, p.dropped, wantDropped)
		}
		p.reset()
	}
}

// A page released after a larger scrape writes the next scrape as a new
// page does.
func TestReusedPageWritesAsNew(t *testing.T) {
	a := NewDesc("kamailio_a", "a", prometheus.GaugeValue, "set", "uri")
	b := NewDesc("kamailio_b_total", "b", prometheus.CounterValue)
	fill := func(p *Page, n int, prefix string) {
		for i := range n {
			p.Add(a, float64(i), fmt.Sprint(i%7), fmt.Sprintf("sip:%s%d", prefix, n-i))
		}
		p.Add(b, float64(n))
		p.Finish()
	}
	text := func(p *Page) string {
		var buf bytes.Buffer
		if _, err := p.WriteText(bufio.NewWriter(&buf), nil, nil); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	fresh := &Page{}
	fill(fresh, 100, "y")
	want := text(fresh)
	reused := &Page{}
	fill(reused, 3*chunkLen, "x")
	reused.reset()
	if reused.Len() != 0 || len(reused.Descs()) != 0 || len(reused.Dropped()) != 0 {
		t.Fatalf("reset page holds %d series, %d families, %d dropped", reused.Len(), len(reused.Descs()), len(reused.Dropped()))
	}
	fill(reused, 100, "y")
	if got := text(reused); got != want {
		t.Fatalf("reused page:\n%s\nwant\n%s", got, want)
	}
}

// compareSeries orders series as the exposition does: by family name, then
// by label values in label name order.
func (p *Page) compareSeries(a, b *sample) int {
	if da, db := p.desc(a), p.desc(b); da != db {
		if c := strings.Compare(da.name, db.name); c != 0 {
			return c
		}
	}
	return p.compareLabels(a, b)
}

// Of equal series the first added wins; a family that conflicts with an
// earlier one of that name loses its series; both are reported, but
// repeats of shared families.
func TestFinishDeduplicates(t *testing.T) {
	up := NewDesc("kamailio_up", "up", prometheus.GaugeValue)
	duration := NewDesc("kamailio_duration", "d", prometheus.GaugeValue, "collector")
	shared := NewDesc("kamailio_shared", "s", prometheus.GaugeValue, "l").MarkShared()
	p := &Page{}
	p.Add(up, 1)
	p.Add(up, 2)
	p.Add(duration, 3, "b")
	p.Add(duration, 4, "a")
	p.Add(duration, 5, "b")
	p.Add(NewDesc("kamailio_up", "another help", prometheus.GaugeValue), 6)
	p.Add(shared, 7, "x")
	p.Add(shared, 8, "x")
	p.Finish()
	var got []string
	for i := range p.samples {
		got = append(got, p.key(&p.samples[i])+"="+string(appendFloat(nil, p.samples[i].value)))
	}
	want := []string{`kamailio_duration{collector="a"}=4`, `kamailio_duration{collector="b"}=3`, "kamailio_shared{l=\"x\"}=7", "kamailio_up=1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("series %v, want %v", got, want)
	}
	if len(p.Dropped()) != 3 {
		t.Fatalf("dropped %q, want the second up, the second b and the clash", p.Dropped())
	}
}

// A series with the wrong number of label values is left out, and said.
func TestAddChecksLabelCount(t *testing.T) {
	p := &Page{}
	p.Add(NewDesc("kamailio_x", "x", prometheus.GaugeValue, "a", "b"), 1, "only one")
	if p.Len() != 0 || len(p.Dropped()) != 1 || !strings.Contains(p.Dropped()[0], "1 label values for 2 labels") {
		t.Fatalf("%d series, dropped %q", p.Len(), p.Dropped())
	}
}

// A failed collector's series leave the page, and series added after it
// do not share its label values.
func TestTruncateRemovesSeries(t *testing.T) {
	d := NewDesc("kamailio_d", "d", prometheus.GaugeValue, "collector")
	e := NewDesc("kamailio_e", "e", prometheus.GaugeValue, "collector")
	p := &Page{}
	p.Add(d, 1, "kept")
	m := p.Mark()
	p.Add(d, 2, "gone")
	p.Add(e, 2, "gone")
	p.Truncate(m)
	p.Add(e, 3, "later")
	p.Finish()
	if p.Len() != 2 {
		t.Fatalf("%d series, want 2", p.Len())
	}
	for i := range p.samples {
		if v := p.values(&p.samples[i])[0]; v != "kept" && v != "later" {
			t.Fatalf("series %s", p.key(&p.samples[i]))
		}
	}
}

// A collector cut off at, before or after a chunk's end leaves exactly the
// series added before it, and the page goes on from there.
func TestTruncateAcrossChunks(t *testing.T) {
	d := NewDesc("kamailio_d", "d", prometheus.GaugeValue, "n")
	for _, kept := range []int{0, 1, chunkLen - 1, chunkLen, chunkLen + 1, 2 * chunkLen, 2*chunkLen + 500} {
		p := &Page{}
		for i := range kept {
			p.Add(d, float64(i), fmt.Sprintf("%06d", i))
		}
		m := p.Mark()
		for i := range chunkLen + 300 {
			p.Add(d, -1, fmt.Sprintf("gone%06d", i))
		}
		p.Truncate(m)
		if p.Len() != kept {
			t.Fatalf("kept %d: %d series after Truncate", kept, p.Len())
		}
		p.Add(d, float64(kept), fmt.Sprintf("%06d", kept))
		p.Finish()
		if p.Len() != kept+1 {
			t.Fatalf("kept %d: %d series after Finish, want %d", kept, p.Len(), kept+1)
		}
		for i := range p.samples {
			if x := &p.samples[i]; x.value != float64(i) || p.values(x)[0] != fmt.Sprintf("%06d", i) {
				t.Fatalf("kept %d: series %d is %s %g", kept, i, p.key(x), x.value)
			}
		}
	}
}

// registryCollector hands a page's series to a registry as
// prometheus.Metrics, so that a test sees them as client_golang checks and
// writes them.
type registryCollector struct{ p *Page }

func (registryCollector) Describe(chan<- *prometheus.Desc) {}
func (c registryCollector) Collect(ch chan<- prometheus.Metric) {
	for i := range c.p.samples {
		x := &c.p.samples[i]
		d := c.p.desc(x)
		desc := prometheus.NewDesc(d.name, d.help, d.labels, nil)
		m, err := prometheus.NewConstMetric(desc, d.typ, x.value, c.p.values(x)...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
}

// Values and label values that the text format escapes or spells
// specially come out of WriteText and Families as promhttp writes them
// through a registry.
func TestOddValuesAsRegistryWritesThem(t *testing.T) {
	status := NewDesc("kamailio_process_status", "s", prometheus.GaugeValue, "index", "quote", "backslash", "newline")
	p := &Page{}
	for i, v := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e21, -3.25e-7, math.NaN(), math.Inf(1), math.Inf(-1), 1234567, 999999, -999999, 1e6, -1e6, 12.5e5, -42} {
		p.Add(status, v, string(rune('a'+i)), "q\"uote", "back\\slash", "new\nline \xff")
	}
	for _, n := range []int{127, 128, 300, 20000} { // a length in one, two or three bytes
		p.Add(status, float64(n), strings.Repeat("i", n), strings.Repeat("\"", n), "b", strings.Repeat("n", n-1))
	}
	p.Add(NewDesc("kamailio_up", "Whether \"up\" \\ or\nnot.", prometheus.GaugeValue), 1)
	p.Finish()
	reg := prometheus.NewRegistry()
	reg.MustRegister(registryCollector{p})
	want := promhttpText(t, reg)
	if len(want) < 1000 {
		t.Fatalf("promhttp wrote %q", want)
	}
	if got := promhttpText(t, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return p.Families(), nil })); got != want {
		t.Errorf("Families through promhttp:\n%s\nwant\n%s", got, want)
	}
	var b bytes.Buffer
	if dropped, err := p.WriteText(bufio.NewWriter(&b), nil, nil); err != nil || len(dropped) > 0 {
		t.Fatalf("WriteText: %v, dropped %v", err, dropped)
	}
	if b.String() != want {
		t.Errorf("WriteText:\n%s\nwant\n%s", b.String(), want)
	}
}

// promhttpText is what promhttp serves for g, in the text format.
func promhttpText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("promhttp: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}
