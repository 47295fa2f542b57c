package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
)

func ourRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kamailio_scrape_collector_success", Help: "kamailio_exporter: Whether a collector succeeded."}, []string{"collector"})
	g.WithLabelValues("stats.fetch").Set(1)
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kamailio_up", Help: "up"})
	up.Set(1)
	reg.MustRegister(g, up)
	return reg
}

func customSuccess(t *testing.T, fams []*dto.MetricFamily) float64 {
	t.Helper()
	for _, f := range fams {
		if f.GetName() != "kamailio_scrape_collector_success" {
			continue
		}
		for _, m := range f.Metric {
			if m.Label[0].GetValue() == customCollector {
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatal("no custom_metrics success sample")
	return -1
}

func render(t *testing.T, fams []*dto.MetricFamily) string {
	var b bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestCustomMetricsMerge(t *testing.T) {
	good := "# TYPE kamailio_calls_routed counter\nkamailio_calls_routed{method=\"INVITE\"} 20 1764000000000\n" +
		"# TYPE kamailio_up gauge\nkamailio_up 7\n"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		success float64
		want    []string
		absent  []string
	}{
		{"good", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, good) }, 1,
			[]string{`kamailio_calls_routed{method="INVITE"} 20` + "\n", "kamailio_up 1\n", "# HELP kamailio_calls_routed Metric kamailio_calls_routed from Kamailio's xhttp_prom module."}, []string{"kamailio_up 7", "1764000000000"}},
		{"garbage", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>{{{\n") }, 0,
			[]string{"kamailio_up 1\n"}, nil},
		{"status 500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, 0,
			[]string{"kamailio_up 1\n"}, nil},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}, 0, []string{"kamailio_up 1\n"}, nil},
	}
	// Dead: nothing listens there any more.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	tests = append(tests, struct {
		name    string
		handler http.HandlerFunc
		success float64
		want    []string
		absent  []string
	}{"dead", nil, 0, []string{"kamailio_up 1\n"}, nil})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := deadURL
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				defer srv.Close()
				u = srv.URL
			}
			g := newCustomMetricsGatherer(ourRegistry(), u, 300*time.Millisecond, promslog.NewNopLogger())
			begin := time.Now()
			fams, err := g.Gather()
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(begin); el > 2*time.Second {
				t.Fatalf("gather took %v", el)
			}
			if got := customSuccess(t, fams); got != tt.success {
				t.Errorf("custom_metrics success = %v, want %v", got, tt.success)
			}
			page := render(t, fams)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(page, a) {
					t.Errorf("page has %q:\n%s", a, page)
				}
			}
		})
	}
}

func TestRTPProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.WriteHeader(503)
		io.WriteString(w, "rtpengine_up 0\n")
	}))
	p := newRTPProxy(up.URL, time.Second, promslog.NewNopLogger())
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/rtp_metrics", nil))
	if rec.Code != 503 || rec.Body.String() != "rtpengine_up 0\n" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("proxied: %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
	up.Close()
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/rtp_metrics", nil))
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("dead upstream: %d", rec.Code)
	}
	// Slow: bounded by the timeout.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	p = newRTPProxy(slow.URL, 300*time.Millisecond, promslog.NewNopLogger())
	rec = httptest.NewRecorder()
	begin := time.Now()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/rtp_metrics", nil))
	if rec.Code != http.StatusBadGateway || time.Since(begin) > 2*time.Second {
		t.Fatalf("slow upstream: %d after %v", rec.Code, time.Since(begin))
	}
	// Garbage is passed through as it is, with the upstream status: the
	// path is rtpengine's page, not ours.
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "\x00\xffnot metrics")
	}))
	defer garbage.Close()
	p = newRTPProxy(garbage.URL, time.Second, promslog.NewNopLogger())
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/rtp_metrics", nil))
	if rec.Code != 200 || rec.Body.String() != "\x00\xffnot metrics" {
		t.Fatalf("garbage upstream: %d %q", rec.Code, rec.Body.String())
	}
}

// xhttp_prom's copies of the exporter's own families are dropped quietly;
// a collision nobody expects is a warning.
func TestCustomMetricsExpectedCollisions(t *testing.T) {
	page := "# TYPE kamailio_tls_opened_connections gauge\nkamailio_tls_opened_connections 3\n" +
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
			logger := promslog.New(&promslog.Config{Writer: &log})
			fams, err := newCustomMetricsGatherer(ourRegistry(), srv.URL, time.Second, logger).Gather()
			if err != nil {
				t.Fatal(err)
			}
			out := render(t, fams)
			if strings.Contains(out, "kamailio_tls_opened_connections") || strings.Contains(out, "kamailio_pkgmem_used") {
				t.Errorf("xhttp_prom's copies kept:\n%s", out)
			}
			if !strings.Contains(out, "kamailio_demo_level 42") {
				t.Errorf("user-defined family lost:\n%s", out)
			}
			if got := strings.Contains(log.String(), "level=WARN"); got != tc.warn {
				t.Errorf("warning logged: %v, want %v:\n%s", got, tc.warn, log.String())
			}
		})
	}
}
