package probe

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/collector"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// fakeKamailio answers core.uptime, listMethods with two methods, tm.stats
// and sl.stats.
func fakeKamailio(t *testing.T, network string) *fakectl.Server {
	t.Helper()
	s, err := fakectl.Start(network, func(r fakectl.Request) fakectl.Response {
		switch r.Method {
		case "core.uptime":
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(binrpc.Named("up_since", binrpc.String("Mon Dec  7 10:00:00 2026")))}}
		case "system.listMethods":
			return fakectl.Response{Values: []binrpc.Value{binrpc.String("tm.stats"), binrpc.String("sl.stats")}}
		case "tm.stats":
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(binrpc.Named("current", binrpc.Int(3)))}}
		case "sl.stats":
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(binrpc.Named("200", binrpc.Int(9)))}}
		}
		return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + r.Method + " not found"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func probe(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	return get(t, h, "/probe?target="+url.QueryEscape(target))
}

// probeDebug is probe with debug=true.
func probeDebug(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	return get(t, h, "/probe?debug=true&target="+url.QueryEscape(target))
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func newHandler(t *testing.T, file string) *Handler {
	t.Helper()
	return newHandlerKeeping(t, file, DefaultMaxTargets)
}

// newHandlerKeeping is newHandler keeping at most max targets; it is
// closed when the test ends.
func newHandlerKeeping(tb testing.TB, file string, max int) *Handler {
	tb.Helper()
	own, _ := binrpc.ParseURI("unix:///var/run/kamailio/kamailio_ctl")
	h, err := NewHandler(file, own, 2*time.Second, max, collector.Settings{}, nil, promslog.NewNopLogger())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Close)
	return h
}

// deadTarget returns a loopback TCP target where nothing listens.
func deadTarget(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "tcp://" + l.Addr().String()
}

// Without a config file only the exporter's own --kamailio.binrpc-uri is
// probed (however it is written); any other target, loopback and unix
// sockets included, is refused with 403 before any connection.
func TestProbeWithoutConfig(t *testing.T) {
	for _, network := range []string{"tcp", "unix", "udp", "unixgram"} {
		s := fakeKamailio(t, network)
		own, _ := binrpc.ParseURI(s.URI())
		h, err := NewHandler("", own, 2*time.Second, DefaultMaxTargets, collector.Settings{}, nil, promslog.NewNopLogger())
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		code, body := probe(t, h, s.URI())
		if code != 200 || !strings.Contains(body, "kamailio_up 1\n") || !strings.Contains(body, "kamailio_tm_stats_current 3\n") {
			t.Errorf("%s: %d %.300s", network, code, body)
		}
		if code, _ := probe(t, h, own.String()); code != 200 {
			t.Errorf("%s written as %s: %d", s.URI(), own, code)
		}
		other := fakeKamailio(t, network)
		if other.Calls("system.listMethods") != 0 {
			t.Fatal("fresh server already called")
		}
		for _, target := range []string{other.URI(), "unix:///var/run/docker.sock", "unixd:///tmp/x", "tcp://127.0.0.1:22", "tcp://localhost:2046",
			"tcp://192.0.2.10:2046", "udp://10.0.0.1:2047", "tcp://example.org:2046"} {
			if code, body := probe(t, h, target); code != 403 || !strings.Contains(body, "not allowed") || !strings.Contains(body, "--config.file") {
				t.Errorf("%s: %d %q, want 403", target, code, body)
			}
		}
		if n := other.Calls("core.uptime") + other.Calls("system.listMethods"); n != 0 {
			t.Errorf("a refused target was called %d times", n)
		}
		if code, _ := probe(t, h, "http://127.0.0.1:1"); code != 400 {
			t.Errorf("bad URI: %d, want 400", code)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/probe", nil))
		if rec.Code != 400 {
			t.Errorf("no target: %d", rec.Code)
		}
	}
}

// gauge reads a gauge's value.
func gauge(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// The reload gauges follow the loads: 1 and the time after a good one, 0
// and the previous time after a bad one. Concurrent reloads (SIGHUP and
// /-/reload at once) leave the config that was read last in force.
func TestReloadMetrics(t *testing.T) {
	s := fakeKamailio(t, "tcp")
	file := filepath.Join(t.TempDir(), "probe.yml")
	writeConfig(t, file, "targets:\n  - match: \"tcp://192.0.2.1:2046\"\n")
	before := float64(time.Now().Unix())
	h := newHandler(t, file)
	ok, when := h.ReloadMetrics()[0], h.ReloadMetrics()[1]
	if gauge(t, ok) != 1 || gauge(t, when) < before {
		t.Fatalf("after the first load: successful %v, timestamp %v (start %v)", gauge(t, ok), gauge(t, when), before)
	}
	first := gauge(t, when)
	writeConfig(t, file, "{{{")
	if h.Reload() == nil {
		t.Fatal("invalid config accepted")
	}
	if gauge(t, ok) != 0 || gauge(t, when) != first {
		t.Fatalf("after a failed reload: successful %v, timestamp %v (was %v)", gauge(t, ok), gauge(t, when), first)
	}
	writeConfig(t, file, "targets:\n  - match: \""+s.URI()+"\"\n")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				h.Reload()
				return
			}
			rec := httptest.NewRecorder()
			h.ReloadHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
			probe(t, h, s.URI())
		}()
	}
	wg.Wait()
	if gauge(t, ok) != 1 || gauge(t, when) < first {
		t.Fatalf("after good reloads: successful %v, timestamp %v", gauge(t, ok), gauge(t, when))
	}
	if code, body := probe(t, h, s.URI()); code != 200 {
		t.Fatalf("target of the reloaded config: %d %.200s", code, body)
	}
}

func writeConfig(t testing.TB, file, body string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// With a config file: only matching targets, with their collectors; an
// invalid file on reload is refused and the old config kept.
func TestProbeWithConfigAndReload(t *testing.T) {
	s := fakeKamailio(t, "tcp")
	other := fakeKamailio(t, "tcp")
	file := filepath.Join(t.TempDir(), "probe.yml")
	writeConfig(t, file, "targets:\n  - match: \""+s.URI()+"\"\n    collectors: [tm.stats]\n    timeout: 1s\n")
	h := newHandler(t, file)

	code, body := probe(t, h, s.URI())
	if code != 200 || !strings.Contains(body, "kamailio_tm_stats_current 3") || strings.Contains(body, "kamailio_sl_stats_codes_total") {
		t.Fatalf("configured target: %d %.300s", code, body)
	}
	if code, _ := probe(t, h, other.URI()); code != 403 {
		t.Fatalf("unlisted loopback target with a config: %d, want 403", code)
	}

	// Pattern; reload through POST /-/reload.
	writeConfig(t, file, "targets:\n  - match: \"tcp://127.0.0.1:*\"\n")
	rec := httptest.NewRecorder()
	h.ReloadHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
	if rec.Code != 200 {
		t.Fatalf("reload: %d %s", rec.Code, rec.Body.String())
	}
	if code, body := probe(t, h, other.URI()); code != 200 || !strings.Contains(body, "kamailio_sl_stats_codes_total") {
		t.Fatalf("pattern target after reload: %d %.300s", code, body)
	}

	// An invalid file is refused; the previous config stays.
	for _, bad := range []string{"targets: [ {match: \"[\"} ]\n", "targets:\n  - match: x\n    collectors: [nope]\n", "tragets: []\n", "{{{"} {
		writeConfig(t, file, bad)
		rec := httptest.NewRecorder()
		h.ReloadHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
		if rec.Code != 500 {
			t.Errorf("invalid config %q: reload %d, want 500", bad, rec.Code)
		}
		if code, _ := probe(t, h, other.URI()); code != 200 {
			t.Errorf("after invalid config %q the old config is gone: %d", bad, code)
		}
	}
	rec = httptest.NewRecorder()
	h.ReloadHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/-/reload", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d", rec.Code)
	}
}

func TestLoadRejectsInvalidConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "probe.yml")
	writeConfig(t, file, "targets:\n  - match: \"\"\n")
	if _, err := Load(file); err == nil {
		t.Fatal("empty match accepted")
	}
	own, _ := binrpc.ParseURI("unix:///x")
	if _, err := NewHandler(file, own, time.Second, DefaultMaxTargets, collector.Settings{}, nil, promslog.NewNopLogger()); err == nil {
		t.Fatal("handler built from an invalid config")
	}
}

// Past --probe.max-targets the target probed least recently is forgotten,
// alone: the others keep their connection (no new accept, no new
// discovery), and a dead target probed all along keeps counting its
// failures. A reload keeps the targets whose entry is unchanged.
func TestProbeKeepsTargetsPastTheBound(t *testing.T) {
	const max = 3
	var live []*fakectl.Server
	for range max + 1 {
		live = append(live, fakeKamailio(t, "tcp"))
	}
	deadURI := deadTarget(t)
	file := filepath.Join(t.TempDir(), "probe.yml")
	writeConfig(t, file, "targets:\n  - match: \"tcp://127.0.0.1:*\"\n    timeout: 1s\n")
	h := newHandlerKeeping(t, file, max)
	failures := func(round int) {
		t.Helper()
		_, body := probe(t, h, deadURI)
		if want := fmt.Sprintf("kamailio_failure_total %d\n", round); !strings.Contains(body, want) {
			t.Errorf("round %d: the dead target's counter is not %q:\n%.400s", round, want, body)
		}
	}
	// Rounds of the dead target and live[0], live[1]: three kept.
	for round := 1; round <= 3; round++ {
		failures(round)
		for _, s := range live[:2] {
			if code, body := probe(t, h, s.URI()); code != 200 || !strings.Contains(body, "kamailio_up 1") {
				t.Fatalf("round %d: %s: %d %.300s", round, s.URI(), code, body)
			}
		}
	}
	for i, s := range live[:2] {
		if a, d := s.Accepts(), s.Calls("system.listMethods"); a != 1 || d != 1 {
			t.Errorf("live[%d]: %d connections, %d discoveries in 3 rounds, want 1 and 1", i, a, d)
		}
	}
	// A fourth target: the least recently probed (the dead one, probed
	// first in round 3) is dropped, alone; the live ones stay.
	probe(t, h, live[2].URI())
	if n := h.Kept(); n != max {
		t.Errorf("%d targets kept, want %d", n, max)
	}
	for _, s := range live[:2] {
		probe(t, h, s.URI())
		if a := s.Accepts(); a != 1 {
			t.Errorf("%s: reconnected after another target was evicted (%d connections)", s.URI(), a)
		}
	}
	failures(1) // forgotten, then counted anew
	// A reload with the same entry keeps every target's connection.
	rec := httptest.NewRecorder()
	h.ReloadHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/-/reload", nil))
	if rec.Code != 200 {
		t.Fatalf("reload: %d", rec.Code)
	}
	failures(2)
	// live[2] was evicted by the dead target's return: it reconnects.
	probe(t, h, live[0].URI())
	if a := live[0].Accepts(); a != 1 {
		t.Errorf("live[0] reconnected after a reload that changed nothing (%d connections)", a)
	}
	// A changed entry (another timeout) drops the targets it covers.
	writeConfig(t, file, "targets:\n  - match: \"tcp://127.0.0.1:*\"\n    timeout: 2s\n")
	h.Reload()
	if n := h.Kept(); n != 0 {
		t.Errorf("%d targets kept after their entry changed, want 0", n)
	}
}

// /probe?debug=true tells, as text, what a probe of the target did: its
// log lines, each RPC with its collector and result, and the metrics; for a
// dead target, why it is down. It leaves the kept target's state alone.
func TestProbeDebug(t *testing.T) {
	s := fakeKamailio(t, "tcp")
	dead := deadTarget(t)
	file := filepath.Join(t.TempDir(), "probe.yml")
	writeConfig(t, file, "targets:\n  - match: \"tcp://127.0.0.1:*\"\n    timeout: 1s\n")
	h := newHandler(t, file)
	code, body := probeDebug(t, h, s.URI())
	if code != 200 {
		t.Fatalf("debug probe: %d %s", code, body)
	}
	for _, want := range []string{"Logs of the probe:", "level=DEBUG", "RPCs, in the order",
		"system.listMethods", "tm.stats               tm.stats", "ok: 1 values [struct]",
		"Metrics the probe returns:", "kamailio_tm_stats_current 3", `kamailio_scrape_collector_success{collector="tm.stats"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("debug probe lacks %q:\n%s", want, body)
		}
	}
	if h.Kept() != 0 {
		t.Errorf("a debug probe kept a target")
	}
	_, body = probeDebug(t, h, dead)
	for _, want := range []string{"Can not connect to kamailio", "connection refused", "kamailio_up 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("debug probe of a dead target lacks %q:\n%s", want, body)
		}
	}
	if code, _ := probeDebug(t, h, "tcp://10.0.0.1:2046"); code != 403 {
		t.Errorf("debug probe of a target not allowed: %d, want 403", code)
	}
}

// A reload keeps a target whose entry is an exact URI written other than
// in its normalised form (tcp:host:port), as the probe wrote it.
func TestReloadKeepsTargetWrittenUnnormalised(t *testing.T) {
	s := fakeKamailio(t, "tcp")
	uri := "tcp:" + strings.TrimPrefix(s.URI(), "tcp://")
	file := filepath.Join(t.TempDir(), "probe.yml")
	writeConfig(t, file, "targets:\n  - match: \""+uri+"\"\n")
	h := newHandler(t, file)
	for range 2 {
		if code, body := probe(t, h, uri); code != 200 || !strings.Contains(body, "kamailio_up 1") {
			t.Fatalf("probe: %d %.300s", code, body)
		}
		if err := h.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if h.Kept() != 1 || s.Accepts() != 1 {
		t.Errorf("after two reloads: %d targets kept, %d connections; want 1 and 1", h.Kept(), s.Accepts())
	}
}
