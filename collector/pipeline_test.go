package collector

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// Scrapes share one kept connection; one that Kamailio dropped while it was
// idle (a restart) is replaced within the scrape, which stays complete;
// Close stops keeping it.
func TestScrapeKeepsOneConnection(t *testing.T) {
	s := replay(t, "unix", nil)
	e := newTestExporter(t, s, 5*time.Second)
	count := func() int {
		t.Helper()
		fams := gather(t, e)
		if up, _ := sampleValue(fams, "kamailio_up", nil); up != 1 {
			t.Fatal("kamailio_up != 1")
		}
		n := 0
		for _, f := range fams {
			n += len(f.Metric)
		}
		return n
	}
	first := count()
	for range 2 {
		if n := count(); n != first {
			t.Fatalf("%d series, first scrape had %d", n, first)
		}
	}
	if n := s.Accepts(); n != 1 {
		t.Fatalf("3 scrapes opened %d connections, want 1", n)
	}
	if n := s.Calls("core.psa"); n != 3 {
		t.Fatalf("core.psa asked %d times in 3 scrapes", n)
	}

	s.DropConns()
	if n := count(); n != first {
		t.Fatalf("after the kept connection was dropped: %d series, want %d", n, first)
	}
	if n := s.Accepts(); n != 2 {
		t.Fatalf("after the drop: %d connections, want 2", n)
	}

	e.Close()
	count()
	count()
	if n := s.Accepts(); n != 4 {
		t.Fatalf("after Close every scrape dials: %d connections, want 4", n)
	}
}

// holdServer answers BINRPC requests from the recordings. While hold is
// set, it answers the first skip requests of a connection at once, then
// nothing until want requests have arrived, so a client that waits for
// each reply before it sends the next request never gets one; it then
// answers them and stops holding.
type holdServer struct {
	recs     map[string]fakectl.Recording
	hold     atomic.Bool
	skip     atomic.Int64
	want     atomic.Int64
	requests atomic.Int64
	listMeth atomic.Int64
}

func (h *holdServer) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var held [][]byte
	for n := int64(1); ; n++ {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		hdr, payload, err := fakectl.ReadFrame(r)
		if err != nil {
			return
		}
		vals, err := binrpc.DecodePayload(payload)
		if err != nil || len(vals) == 0 {
			return
		}
		req := fakectl.Request{Method: vals[0].Str, Args: vals[1:], Cookie: hdr.Cookie}
		h.requests.Add(1)
		if req.Method == listMethods {
			h.listMeth.Add(1)
		}
		resp := recorded(h.recs, req)
		out := resp.Raw
		if resp.Fault != nil {
			out = fakectl.Packet(binrpc.TypeFault, req.Cookie, binrpc.Int(int64(resp.Fault.Code)), binrpc.String(resp.Fault.Message))
		}
		held = append(held, out)
		if hold := h.hold.Load() && n > h.skip.Load(); hold && int64(len(held)) < h.want.Load() {
			continue
		} else if hold {
			h.hold.Store(false)
		}
		for _, o := range held {
			if _, err := c.Write(o); err != nil {
				return
			}
		}
		held = held[:0]
	}
}

// A scrape sends all its requests before it reads the first reply: the
// server holds every answer until the whole scrape has arrived. (Here
// "stats.fetch all" is answered: a fallback request depends on a reply.
// The first scrape of a run may ask more, after a reply: "core.shmmem k"
// after 5.6's 32-bit sizes.)
func TestScrapeIsPipelined(t *testing.T) {
	recs := loadRecordings(t)
	recs["stats.fetch_all"] = recs["stats.fetch_core"]
	h := &holdServer{recs: recs}
	e := h.exporter(t)

	out := e.scrape(context.Background()) // learns the method list and the run's facts
	if v, _ := upOf(out); v != 1 {
		t.Fatal("first scrape: kamailio_up != 1")
	}
	h.requests.Store(0)
	h.listMeth.Store(0)
	if v, _ := upOf(e.scrape(context.Background())); v != 1 {
		t.Fatal("second scrape: kamailio_up != 1")
	}
	want := h.requests.Load() - h.listMeth.Load()
	if want < 10 {
		t.Fatalf("only %d requests in a scrape", want)
	}
	h.want.Store(want)
	h.hold.Store(true)
	h.requests.Store(0)
	out = e.scrape(context.Background())
	if v, _ := upOf(out); v != 1 {
		t.Fatal("pipelined scrape: kamailio_up != 1")
	}
	allSucceeded(t, out)
	if got := h.requests.Load(); got != want {
		t.Fatalf("pipelined scrape sent %d requests, want %d", got, want)
	}
}

// The first scrape of a run sends its collectors' requests together too,
// once system.listMethods has answered: the server answers core.uptime
// and system.listMethods, then holds every answer until ten more requests
// have arrived.
func TestFirstScrapeIsPipelined(t *testing.T) {
	h := &holdServer{recs: loadRecordings(t)}
	h.skip.Store(2)
	h.want.Store(10)
	h.hold.Store(true)
	out := h.exporter(t).scrape(context.Background())
	if v, _ := upOf(out); v != 1 {
		t.Fatal("kamailio_up != 1")
	}
	allSucceeded(t, out)
	if h.hold.Load() {
		t.Error("the server still holds: fewer than ten requests were sent together")
	}
}

// exporter serves h on a unix socket until the test ends and returns an
// exporter for it.
func (h *holdServer) exporter(t *testing.T) *Exporter {
	path := filepath.Join(t.TempDir(), "ctl")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); h.serve(t, c) }()
		}
	}()
	addr, err := binrpc.ParseURI("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	e := NewExporter(addr, 2*time.Second, testSettings, nil, promslog.NewNopLogger())
	t.Cleanup(e.Close)
	return e
}

// allSucceeded fails t for each collector of the scrape that failed.
func allSucceeded(t *testing.T, out *result) {
	t.Helper()
	for _, f := range out.page.Families() {
		for _, m := range f.Metric {
			if f.GetName() == successDesc.Name() && m.GetGauge().GetValue() != 1 {
				t.Errorf("collector %s failed", m.Label[0].GetValue())
			}
		}
	}
}

// upOf returns a scrape's kamailio_up.
func upOf(r *result) (float64, bool) { return sampleValue(r.page.Families(), upDesc.Name(), nil) }

// Every reply of a scrape is read before the first collector converts one
// (binrpc.Session.Receive): ctl cuts a reply that the socket cannot take
// while the exporter is busy. The last collector's request is answered
// 150 ms late; the first collector runs after that, in the first scrape
// of the run and in the next. A collector's duration still runs to the
// arrival of its reply: short for the first, late for the last.
func TestRepliesReadBeforeConverting(t *testing.T) {
	const late = 150 * time.Millisecond
	recs := loadRecordings(t)
	last := collectors[len(collectors)-1]
	for _, c := range slices.Backward(collectors) {
		if !c.off {
			last = c
			break
		}
	}
	var answered atomic.Int64 // when the late reply was sent, in ns
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		resp := recorded(recs, r)
		if r.Method == last.name {
			resp.Delay = late
			answered.Store(time.Now().Add(late).UnixNano())
		}
		return resp
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := newTestExporter(t, s, 5*time.Second)
	first := *e.collectors[0]
	var ran time.Time
	update := first.update
	first.update = func(ctx context.Context, c Caller, cfg *Settings, s *Sink) error {
		ran = time.Now()
		return update(ctx, c, cfg, s)
	}
	e.collectors[0] = &first
	for _, scrape := range []string{"first", "second"} {
		answered.Store(0)
		out := e.scrape(context.Background())
		allSucceeded(t, out)
		if a := answered.Load(); a == 0 || ran.UnixNano() < a {
			t.Errorf("%s scrape: %s ran %v before %s's reply was sent", scrape, first.name, time.Unix(0, a).Sub(ran), last.name)
		}
		fams := out.page.Families()
		if d, _ := sampleValue(fams, durationDesc.Name(), map[string]string{"collector": first.name}); d >= late.Seconds() {
			t.Errorf("%s scrape: %s's duration %v s, want its reply's arrival, before %v", scrape, first.name, d, late)
		}
		if d, _ := sampleValue(fams, durationDesc.Name(), map[string]string{"collector": last.name}); d < late.Seconds() {
			t.Errorf("%s scrape: %s's duration %v s, want at least %v", scrape, last.name, d, late)
		}
	}
}
