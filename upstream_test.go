package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
)

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
