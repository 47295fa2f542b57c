package collector

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

var update = flag.Bool("update", false, "rewrite testdata/*.prom from the current output")

// recordingsDir holds one folder per Kamailio release of the replies
// recorded by scripts/record-replies.sh, one packet per file, named after
// the method and its arguments joined with "_" (requestKey).
const recordingsDir = "../binrpc/testdata/replies"

// defaultRelease is the release whose recordings most tests replay:
// Debian 12's.
const defaultRelease = "5.6.3"

// releases lists the releases that have recordings.
func releases(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(recordingsDir, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no recordings in %s (%v)", recordingsDir, err)
	}
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = filepath.Base(d)
	}
	return out
}

func loadRecordings(t testing.TB) map[string]fakectl.Recording {
	return loadRelease(t, defaultRelease)
}

// loadRelease returns the replies recorded from one release, by request
// key (see requestKey).
func loadRelease(t testing.TB, release string) map[string]fakectl.Recording {
	t.Helper()
	dir := filepath.Join(recordingsDir, release)
	files, err := filepath.Glob(filepath.Join(dir, "*.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s (%v)", dir, err)
	}
	out := map[string]fakectl.Recording{}
	for _, f := range files {
		r, err := fakectl.ReadRecording(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".bin")] = r
	}
	return out
}

func requestKey(r fakectl.Request) string {
	parts := []string{r.Method}
	for _, a := range r.Args {
		s, _ := a.Text()
		parts = append(parts, s)
	}
	// No ':' in file names (module zips refuse them): "stats.fetch core:"
	// is recorded as stats.fetch_core.
	return strings.ReplaceAll(strings.Join(parts, "_"), ":", "")
}

// recorded answers r with its recorded reply, or with Kamailio's fault for
// a method no module exports.
func recorded(recs map[string]fakectl.Recording, r fakectl.Request) fakectl.Response {
	if rec, ok := recs[requestKey(r)]; ok {
		return fakectl.Response{Raw: rec.Replay(r.Cookie)}
	}
	if r.Method == "stats.fetch" {
		// A group this Kamailio lacks: one empty struct, as Kamailio
		// answers (the exporter asks the groups of every release when the
		// counters module cannot list them).
		return fakectl.Response{Values: []binrpc.Value{binrpc.Struct()}}
	}
	return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + r.Method + " not found"}}
}

// replay serves the recordings; override answers chosen requests (by
// request key) instead.
func replay(t testing.TB, network string, override map[string]fakectl.Response) *fakectl.Server {
	t.Helper()
	return replayRelease(t, defaultRelease, network, override)
}

// replayRelease serves one release's recorded replies, with overrides.
func replayRelease(t testing.TB, release, network string, override map[string]fakectl.Response) *fakectl.Server {
	t.Helper()
	recs := loadRelease(t, release)
	s, err := fakectl.Start(network, func(r fakectl.Request) fakectl.Response {
		key := requestKey(r)
		if o, ok := override[key]; ok {
			return o
		}
		if _, ok := recs[key]; !ok && r.Method == "stats.fetch" { // a group without statistics
			return fakectl.Response{Values: []binrpc.Value{{Kind: binrpc.KindStruct}}}
		}
		return recorded(recs, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

var testSettings = Settings{
	DispatcherSetNames: map[int]string{1: "Carrier 1"},
	DialogProfiles:     []string{"inbound", "caller", "no_such_profile"},
	AllStatistics:      true,
}

func newTestExporter(t testing.TB, s *fakectl.Server, timeout time.Duration) *Exporter {
	t.Helper()
	addr, err := binrpc.ParseURI(s.URI())
	if err != nil {
		t.Fatal(err)
	}
	return NewExporter(addr, timeout, testSettings, nil, promslog.NewNopLogger())
}

// gather scrapes through a registry, as promhttp does, and returns the
// families without the timing family (its values vary).
func gather(t testing.TB, e *Exporter) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(scraped{e})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := fams[:0]
	for _, f := range fams {
		if f.GetName() != "kamailio_scrape_collector_duration_seconds" {
			out = append(out, f)
		}
	}
	return out
}

func exposition(t testing.TB, fams []*dto.MetricFamily) string {
	t.Helper()
	var b bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./collector -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(a, b string) string {
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	in := func(l string, set []string) bool {
		for _, x := range set {
			if x == l {
				return true
			}
		}
		return false
	}
	var out []string
	for _, l := range as {
		if !in(l, bs) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bs {
		if !in(l, as) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// The collectors in scrape order, with their defaults. The order decides
// which collector owns a shared family (the earlier one's series win):
// stats.fetch's shared memory over core.shmmem's, core.tcp_info's TLS limit
// over tls.info's. The README's collector table lists them in this order.
func TestCollectorList(t *testing.T) {
	want := []string{"core.psa", "core.runinfo", "core.tcp_info", "core.info", "dlg.stats_active",
		"dlg.profile_get_size", "dispatcher.list", "htable.listTables", "htable.stats", "pkg.stats",
		"rtpengine.show", "sl.stats", "tm.stats", "stats.fetch", "core.shmmem", "tls.info",
		"uac.reg_dump", "dmq.list_nodes", "keepalive.list", "mod.mem_stats (off)"}
	var got []string
	for _, c := range collectors {
		got = append(got, c.name+map[bool]string{true: " (off)"}[c.off])
	}
	if !slices.Equal(got, want) {
		t.Errorf("collectors:\n%q\nwant\n%q", got, want)
	}
}

// The whole exposition for each release's recorded replies, over every
// transport.
func TestScrapeRecordedReplies(t *testing.T) {
	for _, release := range releases(t) {
		for _, network := range []string{"unix", "tcp", "udp", "unixgram"} {
			t.Run(release+"/"+network, func(t *testing.T) {
				e := newTestExporter(t, replayRelease(t, release, network, nil), 5*time.Second)
				compareGolden(t, filepath.Join(release, "scrape.prom"), exposition(t, gather(t, e)))
			})
		}
	}
}

func sampleValue(fams []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.Metric {
			for k, v := range labels {
				found := false
				for _, l := range m.Label {
					found = found || (l.GetName() == k && l.GetValue() == v)
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			}
		}
	}
	return 0, false
}

func familyLen(fams []*dto.MetricFamily, name string) int { return len(family(fams, name).GetMetric()) }

// family returns the family named name, nil if none.
func family(fams []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// A fault or a malformed reply in one collector marks it failed, drops
// its data, and leaves the others untouched.
func TestCollectorFailuresAreIsolated(t *testing.T) {
	bad := map[string]fakectl.Response{
		"fault":           {Fault: &binrpc.FaultError{Code: 503, Message: "Service Unavailable"}},
		"wrong shape":     {Values: []binrpc.Value{binrpc.Int(1), binrpc.String("x")}},
		"not a number":    {Values: []binrpc.Value{binrpc.Struct(binrpc.Named("current", binrpc.String("many")))}},
		"empty reply":     {Values: nil},
		"struct expected": {Values: []binrpc.Value{binrpc.String("oops")}},
	}
	methods := map[string]string{ // collector → request key
		"tm.stats": "tm.stats", "stats.fetch": "stats.fetch_all", "pkg.stats": "pkg.stats",
		"core.psa": "core.psa", "dispatcher.list": "dispatcher.list", "htable.stats": "htable.stats",
		"core.runinfo": "core.runinfo", "sl.stats": "sl.stats", "dlg.stats_active": "dlg.stats_active",
	}
	families := map[string]string{
		"tm.stats": "kamailio_tm_stats_current", "stats.fetch": "kamailio_core_request_total",
		"pkg.stats": "kamailio_pkgmem_used", "core.psa": "kamailio_core_process_status",
		"dispatcher.list": "kamailio_dispatcher_list_target", "htable.stats": "kamailio_htable_slots_total",
		"core.runinfo": "kamailio_core_uptime", "sl.stats": "kamailio_sl_stats_codes_total",
		"dlg.stats_active": "kamailio_dlg_stats_active_all",
	}
	for coll, key := range methods {
		for name, resp := range bad {
			if (name == "empty reply" && (coll == "core.psa" || coll == "pkg.stats" || coll == "htable.stats")) ||
				(name == "not a number" && coll != "tm.stats") {
				continue // an empty list of processes/tables is a valid reply; the number case is tm-specific
			}
			t.Run(coll+"/"+name, func(t *testing.T) {
				e := newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{key: resp}), 5*time.Second)
				fams := gather(t, e)
				if v, _ := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": coll}); v != 0 {
					t.Errorf("success{%s} = %v, want 0", coll, v)
				}
				if n := familyLen(fams, families[coll]); n != 0 {
					t.Errorf("%s has %d series after a failed collector", families[coll], n)
				}
				if v, _ := sampleValue(fams, "kamailio_up", nil); v != 1 {
					t.Errorf("kamailio_up = %v", v)
				}
				other := "core.tcp_info"
				if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": other}); !ok || v != 1 {
					t.Errorf("unrelated collector %s: %v %v", other, v, ok)
				}
			})
		}
	}
}

// A collector that panics (a bug the fuzzers did not find) fails alone,
// with its series dropped and the panic in the log; the exporter goes on.
func TestCollectorPanicIsIsolated(t *testing.T) {
	var log bytes.Buffer
	e := newTestExporter(t, replay(t, "unix", nil), 5*time.Second)
	e.logger = promslog.New(&promslog.Config{Writer: &log})
	for i, c := range e.collectors {
		if c.name == "tm.stats" {
			panicking := *c
			panicking.update = func(ctx context.Context, c Caller, cfg *Settings, s *Sink) error {
				s.Add(upDesc, 7)
				panic("boom")
			}
			e.collectors[i] = &panicking
		}
	}
	for range 2 {
		fams := gather(t, e)
		if v, _ := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "tm.stats"}); v != 0 {
			t.Errorf("success{tm.stats} = %v, want 0", v)
		}
		if v, _ := sampleValue(fams, "kamailio_up", nil); v != 1 {
			t.Errorf("kamailio_up = %v: the panicking collector's sample was kept", v)
		}
		if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); !ok || v != 1 {
			t.Errorf("stats.fetch after the panic: %v %v", v, ok)
		}
	}
	if !strings.Contains(log.String(), "panic: boom") {
		t.Errorf("the panic is not in the log:\n%s", log.String())
	}
}

// Modules not loaded: their collectors are skipped without failing others.
// (Loaded modules with nothing configured are in each collector's test.)
func TestMissingModules(t *testing.T) {
	recs := loadRecordings(t)
	vals, err := binrpc.DecodePayload(recs["system.listMethods"].Payload)
	if err != nil {
		t.Fatal(err)
	}
	var kept []binrpc.Value
	for _, v := range vals {
		if !strings.HasPrefix(v.Str, "dispatcher.") && !strings.HasPrefix(v.Str, "tls.") {
			kept = append(kept, v)
		}
	}
	e := newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"system.listMethods": {Values: kept},
	}), 5*time.Second)
	fams := gather(t, e)
	for _, c := range []string{"dispatcher.list", "tls.info"} {
		if _, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": c}); ok {
			t.Errorf("collector %s ran although its module is not loaded", c)
		}
	}
	for _, c := range Names() {
		if c == "dispatcher.list" || c == "tls.info" {
			continue
		}
		if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": c}); !ok || v != 1 {
			t.Errorf("collector %s: success %v %v, want 1", c, v, ok)
		}
	}
	if n := familyLen(fams, "kamailio_dispatcher_list_target") + familyLen(fams, "kamailio_tls_clear_text_write_queued_bytes"); n != 0 {
		t.Errorf("%d series from absent modules", n)
	}
}

// A collector whose module is loaded but which needs a method this
// Kamailio lacks reports success 0, and says which method once per
// Kamailio run: core.runinfo's fallback (5.5) needs core.info, its second
// method; htable.stats is missing while htable's other methods are there.
// Nothing of theirs is sent, and the other collectors run as usual.
func TestMissingMethodReported(t *testing.T) {
	recs := loadRecordings(t)
	vals, err := binrpc.DecodePayload(recs["system.listMethods"].Payload)
	if err != nil {
		t.Fatal(err)
	}
	missing := map[string]bool{"core.runinfo": true, "core.info": true, "htable.stats": true}
	var kept []binrpc.Value
	for _, v := range vals {
		if !missing[v.Str] {
			kept = append(kept, v)
		}
	}
	s := replay(t, "unix", map[string]fakectl.Response{"system.listMethods": {Values: kept}})
	e := newTestExporter(t, s, 5*time.Second)
	var log bytes.Buffer
	e.logger = promslog.New(&promslog.Config{Writer: &log})
	var fams []*dto.MetricFamily
	for range 2 {
		fams = gather(t, e)
	}
	want := map[string]string{"core.runinfo": "core.info", "core.info": "core.info", "htable.stats": "htable.stats"}
	for _, c := range Names() {
		v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": c})
		if method, blocked := want[c]; blocked {
			if !ok || v != 0 {
				t.Errorf("collector %s: success %v %v, want 0", c, v, ok)
			}
			line := fmt.Sprintf("collector=%s method=%s", c, method)
			if n := strings.Count(log.String(), line); n != 1 {
				t.Errorf("%d log lines with %q in two scrapes, want 1:\n%s", n, line, log.String())
			}
		} else if !ok || v != 1 {
			t.Errorf("collector %s: success %v %v, want 1", c, v, ok)
		}
	}
	if n := familyLen(fams, "kamailio_core_uptime") + familyLen(fams, "kamailio_htable_items_total"); n != 0 {
		t.Errorf("%d series from collectors that could not run", n)
	}
	for m := range missing {
		if n := s.Calls(m); n != 0 {
			t.Errorf("%s asked %d times, though Kamailio lacks it", m, n)
		}
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T, network string) string {
	t.Helper()
	var a string
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a = pc.LocalAddr().String()
		pc.Close()
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a = l.Addr().String()
		l.Close()
	}
	return a
}

// kamailio_failure_total counts the scrapes that could not reach
// Kamailio, alike on every transport: nothing listening (a refused dial
// on unix, unixd and tcp; a refused request on udp, whose dial cannot
// fail), or a ctl that never answers the first request. A ctl that answers,
// even with a fault, was reached.
func TestUnreachableKamailio(t *testing.T) {
	silent := func(fakectl.Request) fakectl.Response { return fakectl.Response{Silent: true} }
	recs := loadRecordings(t)
	faultyUptime := func(r fakectl.Request) fakectl.Response {
		if r.Method == "core.uptime" {
			return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "internal error"}}
		}
		return recorded(recs, r)
	}
	for _, network := range []string{"unix", "unixgram", "tcp", "udp"} {
		var absent binrpc.Address
		switch network {
		case "unix", "unixgram":
			absent = binrpc.Address{Network: network, Addr: filepath.Join(t.TempDir(), "none")}
		default:
			absent = binrpc.Address{Network: network, Addr: closedAddr(t, network)}
		}
		for _, tt := range []struct {
			name    string
			handler fakectl.Handler // nil: nothing listens
			up      float64
			failed  bool
		}{
			{"nothing listens", nil, 0, true},
			{"never answers", silent, 0, true},
			{"fault to core.uptime", faultyUptime, 1, false},
		} {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				addr, timeout := absent, 5*time.Second
				if tt.handler != nil {
					s, err := fakectl.Start(network, tt.handler)
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					addr, _ = binrpc.ParseURI(s.URI())
					timeout = 300 * time.Millisecond
				}
				e := NewExporter(addr, timeout, testSettings, nil, promslog.NewNopLogger())
				defer e.Close()
				for i := 1; i <= 2; i++ {
					fams := gather(t, e)
					if v, ok := sampleValue(fams, "kamailio_up", nil); !ok || v != tt.up {
						t.Fatalf("scrape %d: kamailio_up = %v %v, want %v", i, v, ok, tt.up)
					}
					want := 0
					if tt.failed {
						want = i
					}
					if v, ok := sampleValue(fams, "kamailio_failure_total", nil); !ok || v != float64(want) {
						t.Fatalf("scrape %d: kamailio_failure_total = %v %v, want %d", i, v, ok, want)
					}
				}
			})
		}
	}
}

func TestLabelValuesAreValidUTF8(t *testing.T) {
	s := newSink(promslog.NewNopLogger(), nil)
	s.Add(processStatusDesc, 1, "0", "1", "0", "bad \xff\xfe utf8")
	if s.out.Len() != 1 {
		t.Fatalf("sample dropped: %v", s.out.Dropped())
	}
	s.out.Finish()
	for _, l := range s.out.Families()[0].Metric[0].Label {
		if l.GetName() == "description" && l.GetValue() != "bad \uFFFD utf8" {
			t.Fatalf("description = %q", l.GetValue())
		}
	}
}

// Concurrent scrapes are race-free (run with -race) and complete.
func TestConcurrentScrapes(t *testing.T) {
	e := newTestExporter(t, replay(t, "unix", nil), 10*time.Second)
	want := testutil.CollectAndCount(scraped{e})
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n := testutil.CollectAndCount(scraped{e}); n != want {
				errs <- "incomplete scrape"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// The whole scrape is bounded by the timeout even when Kamailio hangs.
func TestScrapeTimeout(t *testing.T) {
	e := newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"tm.stats": {Silent: true},
	}), 500*time.Millisecond)
	ctx := context.Background()
	begin := time.Now()
	out := e.scrape(ctx)
	if el := time.Since(begin); el > 3*time.Second {
		t.Fatalf("scrape took %v", el)
	}
	if out.page.Len() == 0 {
		t.Fatal("no samples")
	}
}

// slowRounds serves the recordings with every round kept open for delay
// (core.uptime, which starts every round, answers that late), so that
// scrapes started together share one.
func slowRounds(t *testing.T, delay time.Duration) *fakectl.Server {
	t.Helper()
	recs := loadRecordings(t)
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		resp := recorded(recs, r)
		if r.Method == "core.uptime" {
			resp.Delay = delay
		}
		return resp
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Scrapes that arrive together share one round of RPCs.
func TestConcurrentScrapesShareRounds(t *testing.T) {
	s := slowRounds(t, 300*time.Millisecond)
	e := newTestExporter(t, s, 10*time.Second)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gather(t, e)
		}()
	}
	wg.Wait()
	// core.psa is asked once a round (core.uptime twice: by the discovery
	// and by keepalive.list).
	if n := s.Calls("core.psa"); n < 1 || n > 2 {
		t.Fatalf("10 overlapping scrapes made %d rounds, want 1 or 2", n)
	}
	fams := gather(t, e)
	v, _ := sampleValue(fams, "kamailio_exporter_scrape_rounds_total", nil)
	if int(v) != s.Calls("core.psa") {
		t.Fatalf("rounds metric %v, server saw %d rounds", v, s.Calls("core.psa"))
	}
}

// system.listMethods is asked once per Kamailio run: again only after a
// restart (core.uptime's up_since changes) or a failed discovery.
func TestListMethodsCachedUntilRestart(t *testing.T) {
	upSince := "Wed Nov 25 04:01:32 2026"
	failList := false
	var mu sync.Mutex
	recs := loadRecordings(t)
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case "core.uptime":
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(
				binrpc.Named("now", binrpc.String(upSince)), binrpc.Named("up_since", binrpc.String(upSince)),
				binrpc.Named("uptime", binrpc.Int(1)))}}
		case "system.listMethods":
			if failList {
				return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "internal server error"}}
			}
		}
		return recorded(recs, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := newTestExporter(t, s, 5*time.Second)
	scrapeUp := func() float64 {
		v, _ := sampleValue(gather(t, e), "kamailio_up", nil)
		return v
	}
	for range 3 {
		if scrapeUp() != 1 {
			t.Fatal("kamailio_up != 1")
		}
	}
	if n := s.Calls("system.listMethods"); n != 1 {
		t.Fatalf("3 scrapes asked system.listMethods %d times, want 1", n)
	}
	mu.Lock()
	upSince = "Wed Nov 25 05:00:00 2026" // restarted
	mu.Unlock()
	scrapeUp()
	if n := s.Calls("system.listMethods"); n != 2 {
		t.Fatalf("after a restart: %d calls, want 2", n)
	}
	mu.Lock()
	failList, upSince = true, "Wed Nov 25 06:00:00 2026"
	mu.Unlock()
	if scrapeUp() != 0 {
		t.Fatal("kamailio_up should be 0 when discovery fails")
	}
	mu.Lock()
	failList = false
	mu.Unlock()
	if scrapeUp() != 1 || s.Calls("system.listMethods") != 4 {
		t.Fatalf("after a failed discovery the list is asked again: %d calls", s.Calls("system.listMethods"))
	}
}

// The test of a collector (in the file beside it) runs it alone against
// each release's recorded replies and compares its families with expected
// text: inline when short (one text for the releases that answer alike),
// else testdata/<release>/<collector>.prom, rewritten with -update.

// eachRelease runs f as a subtest for each release with recordings.
func eachRelease(t *testing.T, f func(t *testing.T, release string)) {
	t.Helper()
	for _, release := range releases(t) {
		t.Run(release, func(t *testing.T) { f(t, release) })
	}
}

// only selects the named collector and no other.
func only(name string) Selection {
	sel := Selection{}
	for _, c := range collectors {
		on := c.name == name
		sel[c.name] = &on
	}
	return sel
}

// scrapeFamily tells the families of the scrape itself, exported whatever
// the collectors.
func scrapeFamily(name string) bool {
	return name == "kamailio_up" || name == "kamailio_failure_total" ||
		strings.HasPrefix(name, "kamailio_scrape_") || strings.HasPrefix(name, "kamailio_exporter_")
}

// scrapeOnly scrapes one release's recorded replies (with overrides)
// running only the named collector.
func scrapeOnly(t *testing.T, release, name string, override map[string]fakectl.Response) []*dto.MetricFamily {
	t.Helper()
	addr, err := binrpc.ParseURI(replayRelease(t, release, "unix", override).URI())
	if err != nil {
		t.Fatal(err)
	}
	e := NewExporter(addr, 5*time.Second, testSettings, only(name), promslog.NewNopLogger())
	t.Cleanup(e.Close)
	return gather(t, e)
}

// collectorFamilies scrapes one release's recorded replies (with
// overrides) running only the named collector, fails the test unless
// Kamailio is up and the collector alone ran and succeeded, and returns the
// collector's families, without the scrape's own.
func collectorFamilies(t *testing.T, release, name string, override map[string]fakectl.Response) []*dto.MetricFamily {
	t.Helper()
	fams := scrapeOnly(t, release, name, override)
	if v, ok := sampleValue(fams, "kamailio_up", nil); !ok || v != 1 {
		t.Fatalf("kamailio_up = %v %v, want 1", v, ok)
	}
	if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": name}); !ok || v != 1 {
		t.Fatalf("collector %s: success %v %v, want 1", name, v, ok)
	}
	if n := familyLen(fams, "kamailio_scrape_collector_success"); n != 2 { // system.listMethods and name
		t.Fatalf("%d collectors reported, want %s alone", n-1, name)
	}
	out := fams[:0]
	for _, f := range fams {
		if !scrapeFamily(f.GetName()) {
			out = append(out, f)
		}
	}
	return out
}

// compareCollector runs the named collector alone against a release's
// recorded replies and compares its families with the expected text, as
// testutil.CollectAndCompare does: every family, HELP, TYPE and series
// must match; the text's layout and number format do not matter.
func compareCollector(t *testing.T, release, name, want string) {
	t.Helper()
	if want == "" {
		t.Fatalf("no expected text for %s on %s", name, release)
	}
	if !strings.HasSuffix(want, "\n") { // the parser wants the last line ended
		want += "\n"
	}
	fams := collectorFamilies(t, release, name, nil)
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, nil })
	if err := testutil.GatherAndCompare(g, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// collectorFails scrapes the recorded Kamailio with override and checks
// that the collector named failed and that family has no series.
func collectorFails(t *testing.T, override map[string]fakectl.Response, collector, family string) {
	t.Helper()
	fams := gather(t, newTestExporter(t, replay(t, "unix", override), 5*time.Second))
	if v := success(fams, collector); v != 0 {
		t.Errorf("success = %v, want 0", v)
	}
	if n := familyLen(fams, family); n != 0 {
		t.Errorf("%d series from a failed collector", n)
	}
}

// compareCollectorGolden runs the named collector alone against a
// release's recorded replies and compares its families with
// testdata/<release>/<name>.prom.
func compareCollectorGolden(t *testing.T, release, name string) {
	t.Helper()
	fams := collectorFamilies(t, release, name, nil)
	compareGolden(t, filepath.Join(release, name+".prom"), exposition(t, fams))
}

// A collector's duration runs from its first request to its last reply:
// the requests of a scrape go out together, so a collector behind a slow
// one waits for it too, and says so (not the microseconds its conversion
// took once its reply was there).
func TestCollectorDurationFromFirstRequest(t *testing.T) {
	delay := 150 * time.Millisecond
	e := newTestExporter(t, replay(t, "unix", nil), 5*time.Second)
	e.scrape(context.Background()) // learns the method list
	e.Close()
	e = newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{"core.psa": {Delay: delay}}), 5*time.Second)
	e.scrape(context.Background())
	p := e.scrape(context.Background())
	// stats.fetch's request, sent ahead, is stats.get_statistics all once
	// the run has shown stats.fetch all too large.
	for _, c := range []string{"tm.stats", "stats.fetch"} {
		v, ok := sampleValue(p.page.Families(), durationDesc.Name(), map[string]string{"collector": c})
		if !ok || v < delay.Seconds() {
			t.Errorf("%s duration %v (found: %v), behind a core.psa that took %v", c, v, ok, delay)
		}
	}
}

// Every collector, on every release's recordings, makes exactly the calls
// it declares (collector.calls), in that order, once its Kamailio run is
// known (the first scrape of a run learns what chooses them): a call it
// did not declare would be a round trip of its own, a declared one it does
// not take a reply read for nothing.
func TestCollectorsCallWhatTheyDeclare(t *testing.T) {
	eachRelease(t, func(t *testing.T, release string) {
		t.Run("recorded", func(t *testing.T) { checkCallsDeclared(t, release, nil) })
		// Every statistic together too large for ctl: read group by group.
		t.Run("statistics by group", func(t *testing.T) {
			checkCallsDeclared(t, release, map[string]fakectl.Response{"stats.get_statistics_all": *fault500})
		})
	})
}

func checkCallsDeclared(t *testing.T, release string, override map[string]fakectl.Response) {
	e := newTestExporter(t, replayRelease(t, release, "unix", override), 5*time.Second)
	gather(t, e) // the run's first scrape
	declared := map[string][]string{}
	for _, st := range e.plan(e.run.knownMethods()) {
		for _, r := range st.calls {
			declared[st.c.name] = append(declared[st.c.name], requestText(r.Method, r.Args))
		}
	}
	e.trace = &trace{}
	fams := gather(t, e)
	made := map[string][]string{}
	for _, c := range e.trace.calls {
		if c.collector != listMethods {
			made[c.collector] = append(made[c.collector], requestText(c.method, c.args))
		}
	}
	for _, c := range Names() {
		if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": c}); ok && v != 1 {
			t.Errorf("%s failed", c)
		}
		if !slices.Equal(declared[c], made[c]) {
			t.Errorf("%s declared %q, called %q", c, declared[c], made[c])
		}
	}
	if len(made) < 15 {
		t.Errorf("only %d collectors called anything", len(made))
	}
}

// requestText is a request as "method arg…".
func requestText(method string, args []any) string {
	return strings.TrimSpace(method + " " + fmt.Sprint(args...))
}
