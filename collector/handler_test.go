package collector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

// pageCollector hands a page to a registry as prometheus.Metrics, so that
// tests see the page as client_golang checks and writes it.
type pageCollector struct{ p *page }

func (pageCollector) Describe(chan<- *prometheus.Desc) {}
func (c pageCollector) Collect(ch chan<- prometheus.Metric) {
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

// scraped is an exporter as a prometheus.Collector: each Collect is a
// shared scrape.
type scraped struct{ e *Exporter }

func (scraped) Describe(chan<- *prometheus.Desc) {}
func (s scraped) Collect(ch chan<- prometheus.Metric) {
	pageCollector{s.e.sharedScrape(context.Background())}.Collect(ch)
}

// registryText is the exposition promhttp writes for a page and others:
// through prometheus.Metrics, a registry's Gather and expfmt.
func registryText(t *testing.T, p *page, others prometheus.Gatherer) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(pageCollector{p})
	return gatheredText(t, prometheus.Gatherers{others, reg})
}

// gatheredText is the exposition of what g gathers, written by expfmt.
func gatheredText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func pageText(t *testing.T, p *page, others prometheus.Gatherer, keep map[string]bool) string {
	t.Helper()
	fams, err := others.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	if dropped, err := p.writeText(w, fams, keep); err != nil || len(dropped) > 0 {
		t.Fatalf("writeText: %v, dropped %v", err, dropped)
	}
	return b.String()
}

// otherFamilies stands for the process, Go and version collectors (fixed
// values), with a histogram and a family sorted among Kamailio's.
func otherFamilies() prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kamailio_exporter_build_info", Help: "Build \"info\" \\ with\nnewline.", ConstLabels: prometheus.Labels{"version": "x\"y\\z\nw"}})
	build.Set(1)
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "go_like_seconds", Help: "A histogram."})
	hist.Observe(0.3)
	hist.Observe(7)
	goroutines := prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_goroutines", Help: "Goroutines."})
	reg.MustRegister(build, hist, goroutines)
	return reg
}

// A family of others that the page carries too is dropped, and said.
func TestWriteTextDropsOthersTwin(t *testing.T) {
	p := newTestExporter(t, replay(t, "unix", nil), 10*time.Second).scrape(context.Background())
	success := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: successDesc.name, Help: successDesc.help}, []string{"collector"})
	success.WithLabelValues("zz_other").Set(0.5)
	reg := prometheus.NewRegistry()
	reg.MustRegister(success)
	fams, _ := reg.Gather()
	var b bytes.Buffer
	dropped, err := p.writeText(bufio.NewWriter(&b), fams, nil)
	if err != nil || len(dropped) != 1 || strings.Contains(b.String(), "zz_other") || !strings.Contains(b.String(), successDesc.name) {
		t.Fatalf("dropped %v, err %v; page has the other's series: %v", dropped, err, strings.Contains(b.String(), "zz_other"))
	}
}

// The page's own text writer, and its families for promhttp, give byte for
// byte what promhttp gives through a registry, for the replies of the real Kamailio and for the
// synthetic instance (every statistic, profile, process and destination).
func TestWriteTextEqualsRegistryExposition(t *testing.T) {
	pages := map[string]*page{
		"recorded":      newTestExporter(t, replay(t, "unix", nil), 10*time.Second).scrape(context.Background()),
		"synthetic 10%": syntheticExporter(t, synthetic.Scaled(10), nil).scrape(context.Background()),
	}
	// Values and label values the text format escapes or spells specially.
	odd := &page{}
	s := newSink(promslog.NewNopLogger(), odd)
	for i, v := range []float64{0, -zero(), 1, -1, 0.5, 1e21, -3.25e-7, nan(), inf(1), inf(-1), 1234567, 999999, -999999, 1e6, -1e6, 12.5e5, -42} {
		s.Add(processStatusDesc, v, string(rune('a'+i)), "q\"uote", "back\\slash", "new\nline \xff")
	}
	s.Add(upDesc, 1)
	odd.finish()
	pages["odd values"] = odd
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			if len(p.samples) < 10 {
				t.Fatalf("only %d series", len(p.samples))
			}
			want := registryText(t, p, otherFamilies())
			// The protobuf path's families, written by expfmt.
			fams := gatheredText(t, prometheus.Gatherers{otherFamilies(),
				prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return p.families(), nil })})
			if fams != want {
				t.Error("the page's families differ from the registry's")
			}
			got := pageText(t, p, otherFamilies(), nil)
			if got != want {
				gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%d lines, want %d", len(gl), len(wl))
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }
func inf(sign int) float64 {
	if sign > 0 {
		return 1 / zero()
	}
	return -1 / zero()
}
func zero() float64 { return 0 }

// Of equal series the first added wins; a family that conflicts with an
// earlier one of that name loses its series; both are reported, but
// repeats of shared families.
func TestFinishDeduplicates(t *testing.T) {
	p := &page{}
	s := newSink(promslog.NewNopLogger(), p)
	s.Add(upDesc, 1)
	s.Add(upDesc, 2)
	s.Add(durationDesc, 3, "b")
	s.Add(durationDesc, 4, "a")
	s.Add(durationDesc, 5, "b")
	clash := makeDesc(upDesc.name, "another help", prometheus.GaugeValue)
	s.Add(clash, 6)
	shared := makeDesc("kamailio_shared", "s", prometheus.GaugeValue, "l")
	shared.shared = true
	s.Add(shared, 7, "x")
	s.Add(shared, 8, "x")
	p.finish()
	var got []string
	for i := range p.samples {
		got = append(got, p.key(&p.samples[i])+"="+string(appendFloat(nil, p.samples[i].value)))
	}
	want := []string{`kamailio_scrape_collector_duration_seconds{collector="a"}=4`, `kamailio_scrape_collector_duration_seconds{collector="b"}=3`, "kamailio_shared{l=\"x\"}=7", "kamailio_up=1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("series %v, want %v", got, want)
	}
	if len(p.dropped) != 3 {
		t.Fatalf("dropped %q, want the second up, the second b and the clash", p.dropped)
	}
}

// A failed collector's series leave the page, and series added after it
// do not share its label values.
func TestDiscardRemovesSeries(t *testing.T) {
	p := &page{}
	a := newSink(promslog.NewNopLogger(), p)
	a.Add(durationDesc, 1, "kept")
	b := newSink(promslog.NewNopLogger(), p)
	b.Add(durationDesc, 2, "gone")
	b.Add(successDesc, 2, "gone")
	b.discard()
	c := newSink(promslog.NewNopLogger(), p)
	c.Add(successDesc, 3, "later")
	p.finish()
	if len(p.samples) != 2 {
		t.Fatalf("%d series, want 2", len(p.samples))
	}
	for i := range p.samples {
		if v := p.values(&p.samples[i])[0]; v == "gone" {
			t.Fatalf("series of the failed collector kept: %s", p.key(&p.samples[i]))
		}
	}
}

// The handler negotiates as promhttp does: text (gzipped when asked),
// protobuf through the registry, and the name[] filter.
func TestHandlerFormats(t *testing.T) {
	e := newTestExporter(t, replay(t, "unix", nil), 10*time.Second)
	h := e.Handler(otherFamilies(), promhttp.HandlerOpts{}, promslog.NewNopLogger())
	get := func(url string, header map[string]string) (*http.Response, []byte) {
		req := httptest.NewRequest(http.MethodGet, url, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("/metrics", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(plain))
	if err != nil {
		t.Fatalf("text page does not parse: %v", err)
	}
	if f := fams["kamailio_up"]; f == nil || f.Metric[0].GetGauge().GetValue() != 1 {
		t.Fatalf("kamailio_up missing or not 1")
	}
	if f := fams["go_goroutines"]; f == nil {
		t.Fatal("the other families are not merged in")
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("Content-Type %q", ct)
	}

	resp, body = get("/metrics?name[]=kamailio_up&name[]=go_goroutines", nil)
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip without Accept-Encoding")
	}
	if n := strings.Count(string(body), "# TYPE "); n != 2 || !strings.Contains(string(body), "\nkamailio_up 1\n") {
		t.Fatalf("name[] filter: %d families:\n%s", n, body)
	}

	resp, body = get("/metrics", map[string]string{"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"})
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "protobuf") {
		t.Fatalf("protobuf asked, Content-Type %q", ct)
	}
	if protobufFamilies(t, bytes.NewReader(body))["kamailio_up"] == nil {
		t.Fatal("protobuf page without kamailio_up")
	}
}

// protobufFamilies decodes a delimited protobuf page, by family name.
func protobufFamilies(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(r, expfmt.NewFormat(expfmt.TypeProtoDelim))
	out := map[string]*dto.MetricFamily{}
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("protobuf page: %v", err)
		}
		out[f.GetName()] = f
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{"": false, "gzip": true, "deflate, gzip;q=0.5": true, "gzip;q=0": false, "*": true, "identity": false, "br, *;q=0": false} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v", h, got)
		}
	}
}
