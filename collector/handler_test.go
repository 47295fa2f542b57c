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
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

// pageCollector hands a page's series to a registry as prometheus.Metrics,
// so that tests see the page as client_golang checks and writes it.
type pageCollector struct{ p *page.Page }

func (pageCollector) Describe(chan<- *prometheus.Desc) {}
func (c pageCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.p.Families() {
		for _, m := range f.Metric {
			var names, values []string
			for _, l := range m.Label {
				names, values = append(names, l.GetName()), append(values, l.GetValue())
			}
			desc := prometheus.NewDesc(f.GetName(), f.GetHelp(), names, nil)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			metric, err := prometheus.NewConstMetric(desc, valueType(f.GetType()), v, values...)
			if err != nil {
				metric = prometheus.NewInvalidMetric(desc, err)
			}
			ch <- metric
		}
	}
}

func valueType(t dto.MetricType) prometheus.ValueType {
	switch t {
	case dto.MetricType_COUNTER:
		return prometheus.CounterValue
	case dto.MetricType_GAUGE:
		return prometheus.GaugeValue
	}
	return prometheus.UntypedValue
}

// scraped is an exporter as a prometheus.Collector: each Collect is a
// shared scrape.
type scraped struct{ e *Exporter }

func (scraped) Describe(chan<- *prometheus.Desc) {}
func (s scraped) Collect(ch chan<- prometheus.Metric) {
	res, _ := s.e.sharedScrape(context.Background())
	pageCollector{res.page}.Collect(ch)
}

// registryText is the exposition promhttp writes for a page and others:
// through prometheus.Metrics, a registry's Gather and expfmt.
func registryText(t *testing.T, p *page.Page, others prometheus.Gatherer) string {
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

func pageText(t *testing.T, p *page.Page, others prometheus.Gatherer, keep map[string]bool) string {
	t.Helper()
	fams, err := others.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	if dropped, err := p.WriteText(w, fams, keep); err != nil || len(dropped) > 0 {
		t.Fatalf("WriteText: %v, dropped %v", err, dropped)
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
	p := newTestExporter(t, replay(t, "unix", nil), 10*time.Second).scrape(context.Background()).page
	success := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: successDesc.Name(), Help: successDesc.Help()}, []string{"collector"})
	success.WithLabelValues("zz_other").Set(0.5)
	reg := prometheus.NewRegistry()
	reg.MustRegister(success)
	fams, _ := reg.Gather()
	var b bytes.Buffer
	dropped, err := p.WriteText(bufio.NewWriter(&b), fams, nil)
	if err != nil || len(dropped) != 1 || strings.Contains(b.String(), "zz_other") || !strings.Contains(b.String(), successDesc.Name()) {
		t.Fatalf("dropped %v, err %v; page has the other's series: %v", dropped, err, strings.Contains(b.String(), "zz_other"))
	}
}

// The page's own text writer, and its families for promhttp, give byte for
// byte what promhttp gives through a registry, for the replies of the real
// Kamailio and for the synthetic instance (every statistic, profile,
// process and destination). internal/page tests values that need escaping.
func TestWriteTextEqualsRegistryExposition(t *testing.T) {
	pages := map[string]*page.Page{
		"recorded":      newTestExporter(t, replay(t, "unix", nil), 10*time.Second).scrape(context.Background()).page,
		"synthetic 10%": syntheticExporter(t, synthetic.Scaled(10), nil).scrape(context.Background()).page,
	}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			if p.Len() < 10 {
				t.Fatalf("only %d series", p.Len())
			}
			want := registryText(t, p, otherFamilies())
			// The protobuf path's families, written by expfmt.
			fams := gatheredText(t, prometheus.Gatherers{otherFamilies(),
				prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return p.Families(), nil })})
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

// Requests that share a round write one page, which none of them gives
// back for reuse while another may still write it; the scrapes after them
// write pages taken back from earlier ones, as new pages are written.
// (Under -race, giving a shared page back is a data race.)
func TestSharedPagesNotReused(t *testing.T) {
	e := newTestExporter(t, slowRounds(t, 200*time.Millisecond), 10*time.Second)
	h := e.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}, promslog.NewNopLogger())
	get := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		// The durations differ from round to round: compared without them.
		var lines []string
		for l := range strings.Lines(rec.Body.String()) {
			if !strings.HasPrefix(l, "kamailio_scrape_collector_duration_seconds") && !strings.HasPrefix(l, "kamailio_exporter_scrape_rounds_total") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "")
	}
	want := get()
	for range 3 {
		bodies := make([]string, 8)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Go(func() { bodies[i] = get() })
		}
		wg.Wait()
		for i, b := range bodies {
			if b != want {
				t.Fatalf("request %d of a shared round wrote another page:\n%s\nwant\n%s", i, b, want)
			}
		}
	}
}
