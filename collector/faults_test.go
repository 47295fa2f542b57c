package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// serveMetrics returns the page promhttp serves for the exporter, its
// status and how long it took.
func serveMetrics(t *testing.T, e *Exporter) (string, int, time.Duration) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(scraped{e})
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	defer srv.Close()
	begin := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode, time.Since(begin)
}

// bigStats builds a stats.fetch reply of about size bytes.
func bigStats(size int) []binrpc.Value {
	var m []binrpc.Member
	for i, n := 0, 0; n < size; i++ {
		name := fmt.Sprintf("script.generated_stat_%05d", i)
		m = append(m, binrpc.Named(name, binrpc.String("1234567")))
		n += len(name) + 12
	}
	return []binrpc.Value{binrpc.Struct(m...)}
}

// Each fault: the page is served (200) within the timeout plus a margin,
// and kamailio_up / the success metrics say exactly what failed.
func TestFaultInjection(t *testing.T) {
	const timeout = 700 * time.Millisecond
	const margin = 1500 * time.Millisecond
	truncated := func(c uint32) []byte {
		p := fakectl.Packet(binrpc.TypeReply, c, binrpc.Struct(binrpc.Named("current", binrpc.Int(1))))
		return p[:len(p)-3]
	}
	tests := []struct {
		name  string
		key   string // request key that gets the fault ("" = none)
		resp  func(cookie uint32) fakectl.Response
		want  []string // lines that must be on the page
		avoid []string // substrings that must not
	}{
		{"never answers", "system.listMethods", func(uint32) fakectl.Response { return fakectl.Response{Silent: true} },
			[]string{"kamailio_up 0", `kamailio_scrape_collector_success{collector="system.listMethods"} 0`}, []string{"kamailio_tm_stats"}},
		{"slow past the timeout", "tm.stats", func(uint32) fakectl.Response { return fakectl.Response{Delay: 3 * time.Second} },
			[]string{"kamailio_up 1", `kamailio_scrape_collector_success{collector="tm.stats"} 0`}, []string{"kamailio_tm_stats_current"}},
		{"slow within the timeout", "tm.stats", func(c uint32) fakectl.Response {
			return fakectl.Response{Delay: 100 * time.Millisecond, Values: []binrpc.Value{binrpc.Struct(binrpc.Named("current", binrpc.Int(4)))}}
		}, []string{"kamailio_up 1", `kamailio_scrape_collector_success{collector="tm.stats"} 1`, "kamailio_tm_stats_current 4"}, nil},
		{"closes mid-reply", "tm.stats", func(c uint32) fakectl.Response { return fakectl.Response{Raw: truncated(c), Close: true} },
			[]string{`kamailio_scrape_collector_success{collector="tm.stats"} 0`, `kamailio_scrape_collector_success{collector="tls.info"} 1`}, []string{"kamailio_tm_stats_current"}},
		{"truncated packet then silence", "tm.stats", func(c uint32) fakectl.Response { return fakectl.Response{Raw: truncated(c)} },
			[]string{`kamailio_scrape_collector_success{collector="tm.stats"} 0`}, []string{"kamailio_tm_stats_current"}},
		{"garbage", "tm.stats", func(uint32) fakectl.Response { return fakectl.Response{Raw: []byte("garbage\r\n\x00\xff")} },
			[]string{`kamailio_scrape_collector_success{collector="tm.stats"} 0`, `kamailio_scrape_collector_success{collector="tls.info"} 1`}, nil},
		{"wrong cookie", "tm.stats", func(c uint32) fakectl.Response {
			return fakectl.Response{Raw: fakectl.Packet(binrpc.TypeReply, c^0xffff, binrpc.Struct())}
		}, []string{`kamailio_scrape_collector_success{collector="tm.stats"} 0`, `kamailio_scrape_collector_success{collector="tls.info"} 1`}, nil},
		{"length claiming gigabytes", "tm.stats", func(c uint32) fakectl.Response {
			return fakectl.Response{Raw: binrpc.AppendHeader(nil, binrpc.TypeReply, 0x7ffffff0, c)}
		}, []string{`kamailio_scrape_collector_success{collector="tm.stats"} 0`, `kamailio_scrape_collector_success{collector="tls.info"} 1`}, nil},
		{"fault on discovery", "system.listMethods", func(uint32) fakectl.Response {
			return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "internal server error"}}
		}, []string{"kamailio_up 0"}, nil},
		{"reply at ctl's 32 KiB size limit", "stats.fetch_all", func(uint32) fakectl.Response {
			return fakectl.Response{Values: bigStats(32 << 10)}
		}, []string{`kamailio_scrape_collector_success{collector="stats.fetch"} 1`, "kamailio_generated_stat_00000 1.234567e+06"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := loadRecordings(t)
			s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
				if requestKey(r) == tt.key {
					return tt.resp(r.Cookie)
				}
				return recorded(recs, r)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			page, status, took := serveMetrics(t, newTestExporter(t, s, timeout))
			t.Logf("%s: HTTP %d in %v (timeout %v)", tt.name, status, took.Round(time.Millisecond), timeout)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			if took > timeout+margin {
				t.Errorf("page took %v, timeout %v", took, timeout)
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w+"\n") {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(page, a) {
					t.Errorf("page has %q", a)
				}
			}
		})
	}
}

// A fault reply for every RPC: Kamailio is up, every collector that ran
// failed, nothing else is exported.
func TestFaultForEveryRPC(t *testing.T) {
	recs := loadRecordings(t)
	s, err := fakectl.Start("tcp", func(r fakectl.Request) fakectl.Response {
		if r.Method == "system.listMethods" {
			return fakectl.Response{Raw: recs["system.listMethods"].Replay(r.Cookie)}
		}
		return fakectl.Response{Fault: &binrpc.FaultError{Code: 503, Message: "overloaded"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fams := gather(t, newTestExporter(t, s, 5*time.Second))
	for _, c := range Names() {
		v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": c})
		// dlg.profile_get_size skips profiles it cannot read only on 404.
		if !ok || v != 0 {
			t.Errorf("collector %s: success %v %v, want 0", c, v, ok)
		}
	}
	for _, f := range fams {
		n := f.GetName()
		if !strings.HasPrefix(n, "kamailio_scrape_") && n != "kamailio_up" && n != "kamailio_failure_total" && n != "kamailio_exporter_scrape_rounds_total" {
			t.Errorf("family %s exported although every RPC failed", n)
		}
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// 1,000 failing scrapes (refused connections, garbage replies, faults)
// leak neither goroutines nor file descriptors.
func TestNoLeakAfterFailingScrapes(t *testing.T) {
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		switch r.Cookie % 3 {
		case 0:
			return fakectl.Response{Raw: []byte("garbage")}
		case 1:
			return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "no"}}
		}
		return fakectl.Response{Raw: []byte{0xa1}, Close: true}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refused, _ := binrpc.ParseURI("unix://" + t.TempDir() + "/absent")
	good, _ := binrpc.ParseURI(s.URI())
	log := promslog.NewNopLogger()
	exporters := []*Exporter{
		NewExporter(refused, time.Second, testSettings, nil, log),
		NewExporter(good, time.Second, testSettings, nil, log),
	}
	// Warm up, then measure.
	for _, e := range exporters {
		e.scrape(context.Background())
	}
	time.Sleep(100 * time.Millisecond)
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	for i := range 1000 {
		if up, _ := upOf(exporters[i%2].scrape(context.Background())); up != 0 {
			t.Fatalf("scrape %d: up %v", i, up)
		}
	}
	var g1, fd1 int
	for range 50 { // let closed connections' goroutines finish
		time.Sleep(20 * time.Millisecond)
		g1, fd1 = runtime.NumGoroutine(), openFDs(t)
		if g1 <= g0 && fd1 <= fd0 {
			break
		}
	}
	t.Logf("goroutines %d -> %d, fds %d -> %d after 1000 failing scrapes", g0, g1, fd0, fd1)
	if g1 > g0+2 || fd1 > fd0+2 {
		t.Fatalf("leak: goroutines %d -> %d, fds %d -> %d", g0, g1, fd0, fd1)
	}
}

// The log line of a failed collector names the collector and carries
// Kamailio's fault code and message.
func TestFailureLogNamesCollectorAndFault(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	s := replay(t, "unix", map[string]fakectl.Response{
		"tm.stats": {Fault: &binrpc.FaultError{Code: 503, Message: "tm busy"}},
	})
	addr, _ := binrpc.ParseURI(s.URI())
	NewExporter(addr, 5*time.Second, testSettings, nil, logger).scrape(context.Background())
	mu.Lock()
	defer mu.Unlock()
	var line string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, "collector failed") {
			line = l
		}
	}
	for _, want := range []string{"collector=tm.stats", "code=503", `message="tm busy"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %s", line, want)
		}
	}
}
