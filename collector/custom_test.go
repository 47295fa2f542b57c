package collector

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// customExporter scrapes the recorded Kamailio (with overrides) and the
// xhttp_prom page at url; log receives its log.
func customExporter(t *testing.T, url string, timeout time.Duration, override map[string]fakectl.Response, log io.Writer) *Exporter {
	t.Helper()
	s := replay(t, "unix", override)
	addr, err := binrpc.ParseURI(s.URI())
	if err != nil {
		t.Fatal(err)
	}
	settings := testSettings
	settings.CustomMetricsURL = url
	e := NewExporter(addr, timeout, settings, nil, promslog.New(&promslog.Config{Writer: log}))
	t.Cleanup(e.Close)
	return e
}

// get requests the exporter's page as Prometheus does (text, gzip), with
// Prometheus's scrape timeout header when timeout is not "".
func get(t *testing.T, e *Exporter, timeout string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("Accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	r.Header.Set("Accept-Encoding", "gzip")
	if timeout != "" {
		r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	}
	w := httptest.NewRecorder()
	e.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}, e.logger).ServeHTTP(w, r)
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCustomMetrics(t *testing.T) {
	good := "# TYPE kamailio_calls_routed counter\nkamailio_calls_routed{method=\"INVITE\"} 20 1764000000000\n" +
		"# TYPE kamailio_up gauge\nkamailio_up 7\n"
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		success string
		want    []string
		absent  []string
	}{
		{"good", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, good) }, "1",
			[]string{`kamailio_calls_routed{method="INVITE"} 20` + "\n", "kamailio_up 1\n",
				"# HELP kamailio_calls_routed Metric kamailio_calls_routed from Kamailio's xhttp_prom module."},
			[]string{"kamailio_up 7", "1764000000000"}},
		{"garbage", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>{{{\n") }, "0", []string{"kamailio_up 1\n"}, nil},
		{"status 500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, "0", []string{"kamailio_up 1\n"}, nil},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}, "0", []string{"kamailio_up 1\n"}, nil},
		{"dead", nil, "0", []string{"kamailio_up 1\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := deadURL
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				u = srv.URL
			}
			page := get(t, customExporter(t, u, 500*time.Millisecond, nil, io.Discard), "")
			for _, w := range append(tc.want, `kamailio_scrape_collector_success{collector="custom_metrics"} `+tc.success+"\n",
				`kamailio_scrape_collector_duration_seconds{collector="custom_metrics"} `) {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(page, a) {
					t.Errorf("page has %q", a)
				}
			}
		})
	}
}

// xhttp_prom's copies of the exporter's own families are dropped quietly;
// a collision nobody expects is a warning, once per Kamailio run, not once
// per scrape.
func TestCustomMetricsExpectedCollisions(t *testing.T) {
	page := "# TYPE kamailio_tls_max_connections gauge\nkamailio_tls_max_connections 3\n" +
		"# TYPE kamailio_pkgmem_used gauge\nkamailio_pkgmem_used{pid=\"1\",rank=\"0\",desc=\"main\"} 9\n" +
		"# TYPE kamailio_demo_level gauge\nkamailio_demo_level 42\n"
	for _, tc := range []struct {
		name, extra string
		warn        bool
	}{
		{"expected", "", false},
		{"unexpected", "# TYPE kamailio_up gauge\nkamailio_up 7\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, page+tc.extra) }))
			defer srv.Close()
			var log bytes.Buffer
			e := customExporter(t, srv.URL, 5*time.Second, nil, &log)
			out := get(t, e, "")
			get(t, e, "")
			get(t, e, "")
			if strings.Contains(out, "kamailio_tls_max_connections 3") || strings.Contains(out, `desc="main"`) {
				t.Errorf("xhttp_prom's copies kept")
			}
			if !strings.Contains(out, "kamailio_demo_level 42") || !strings.Contains(out, "kamailio_tls_max_connections ") {
				t.Errorf("a family lost")
			}
			if got := strings.Count(log.String(), "level=WARN"); got != map[bool]int{true: 1}[tc.warn] {
				t.Errorf("%d warnings in 3 scrapes, want %v once:\n%s", got, tc.warn, log.String())
			}
		})
	}
}

// One bound for the whole scrape: a Kamailio that never answers and a slow
// xhttp_prom page take one timeout together, not one each; Prometheus's
// scrape timeout, less the offset, bounds the scrape when it is shorter.
func TestOneTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(20 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	silent := map[string]fakectl.Response{"tm.stats": {Silent: true}}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		header  string
		bound   time.Duration
	}{
		{"exporter timeout", 1 * time.Second, "", 1800 * time.Millisecond},
		{"Prometheus's timeout", 20 * time.Second, "1.5", 1800 * time.Millisecond},
		{"Prometheus's timeout longer", 1 * time.Second, "10", 1800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := customExporter(t, slow.URL, tc.timeout, silent, io.Discard)
			begin := time.Now()
			page := get(t, e, tc.header)
			if el := time.Since(begin); el > tc.bound {
				t.Errorf("scrape took %v, want at most %v", el, tc.bound)
			}
			for _, w := range []string{`kamailio_scrape_collector_success{collector="custom_metrics"} 0`, `kamailio_scrape_collector_success{collector="tm.stats"} 0`, "kamailio_up 1"} {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

// In protobuf, which goes through promhttp, the custom families come along
// too, but a family that collides with the exporter's.
func TestCustomMetricsProtobuf(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "# TYPE kamailio_demo_level gauge\nkamailio_demo_level 42\n# TYPE kamailio_up gauge\nkamailio_up 7\n")
	}))
	defer srv.Close()
	e := customExporter(t, srv.URL, 5*time.Second, nil, io.Discard)
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	w := httptest.NewRecorder()
	e.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}, e.logger).ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	got := protobufFamilies(t, w.Body)
	demo, up := got["kamailio_demo_level"], got["kamailio_up"]
	if demo == nil || up == nil || demo.Metric[0].GetGauge().GetValue() != 42 || up.Metric[0].GetGauge().GetValue() != 1 {
		t.Errorf("kamailio_demo_level %v (want 42), kamailio_up %v (want 1)", demo, up)
	}
}
