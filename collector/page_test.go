package collector

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
)

// referenceFinish is what finish computes, written the plain way: one
// stable sort of all series by name and label values, then, per name, the
// conflicting families and the repeated series dropped. It returns the
// series as text and what it dropped.
func referenceFinish(p *page) (series, dropped []string) {
	samples := slices.Clone(p.samples)
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

func pageSeries(p *page, samples []sample) []string {
	var out []string
	for i := range samples {
		out = append(out, fmt.Sprintf("%s %g (%s)", p.key(&samples[i]), samples[i].value, p.desc(&samples[i]).help))
	}
	return out
}

// finish gives what one stable sort of all series gives, on random pages:
// families that share a name (conflicting or alike), shared families,
// repeated series, discarded collectors, families in changing order.
func TestFinishMatchesSort(t *testing.T) {
	shared := makeDesc("kamailio_b_shared", "shared", prometheus.GaugeValue, "type")
	shared.shared = true
	pool := []*Desc{
		makeDesc("kamailio_c", "c", prometheus.GaugeValue),
		makeDesc("kamailio_a_total", "a", prometheus.CounterValue, "method"),
		makeDesc("kamailio_a_total", "a", prometheus.CounterValue, "method"), // alike, another Desc
		makeDesc("kamailio_a_total", "other help", prometheus.CounterValue, "method"),
		makeDesc("kamailio_d", "d", prometheus.GaugeValue, "z", "b", "m"),
		makeDesc("kamailio_d", "d", prometheus.GaugeValue, "z"), // other labels
		shared,
		makeDesc("kamailio_b", "b", prometheus.GaugeValue),
		makeDesc("kamailio_e", "e", prometheus.GaugeValue, "x", "y"),
		makeDesc("kamailio_aa", "aa", prometheus.GaugeValue),
	}
	rng := rand.New(rand.NewPCG(7, 11))
	fill := func(p *page, order []*Desc, n int) {
		s := newSink(promslog.NewNopLogger(), p)
		for k := range n {
			if rng.IntN(40) == 0 {
				s.discard()
				s = newSink(promslog.NewNopLogger(), p)
			}
			d := order[k%len(order)]
			if k >= len(order) && rng.IntN(3) == 0 {
				d = order[rng.IntN(len(order))]
			}
			values := make([]string, len(d.labels))
			for i := range values {
				values[i] = string(rune('a' + rng.IntN(3)))
			}
			s.Add(d, float64(k), values...)
		}
	}
	for round := range 1500 {
		order := slices.Clone(pool[:1+rng.IntN(len(pool))])
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		p := &page{}
		fill(p, order, rng.IntN(60))
		want, wantDropped := referenceFinish(p)
		p.finish()
		if got := pageSeries(p, p.samples); !slices.Equal(got, want) {
			t.Fatalf("round %d: series\n%s\nwant\n%s", round, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !slices.Equal(p.dropped, wantDropped) {
			t.Fatalf("round %d: dropped %q, want %q", round, p.dropped, wantDropped)
		}
	}
}

// compareSeries orders series as the exposition does: by family name, then
// by label values in label name order.
func (p *page) compareSeries(a, b *sample) int {
	if da, db := p.desc(a), p.desc(b); da != db {
		if c := strings.Compare(da.name, db.name); c != 0 {
			return c
		}
	}
	return p.compareLabels(a, b)
}
