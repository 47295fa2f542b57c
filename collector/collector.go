// Package collector turns the replies of Kamailio's RPC methods, read over
// BINRPC, into Prometheus metrics. One file per RPC family; each collector
// is named after the RPC method it calls (the `collector` label of the
// scrape metrics) and can be switched with --[no-]collector.<name>.
package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// Caller sends one RPC and returns its reply's top-level values; a fault is
// a *binrpc.FaultError.
type Caller interface {
	Call(ctx context.Context, method string, args ...any) ([]binrpc.Value, error)
}

// Settings are the collector options given on the command line.
type Settings struct {
	// DispatcherSetNames maps a dispatcher set id to its set_name label.
	DispatcherSetNames map[int]string
	// DialogProfiles are the dialog profiles whose sizes are queried.
	DialogProfiles []string
	// AllStatistics exports every stats.fetch statistic, not only the
	// curated and scripted ones.
	AllStatistics bool
}

// updateFunc runs one collector: it calls its RPCs through c and adds the
// resulting samples to s. An error discards everything it added.
type updateFunc func(ctx context.Context, c Caller, cfg *Settings, s *Sink) error

type collector struct {
	name    string // the RPC method, also the `collector` label value
	help    string
	enabled bool // the default of its --[no-]collector.<name> flag
	update  updateFunc
}

// registry lists the collectors in scrape order. It is filled by init
// functions and never changed afterwards.
var registry []*collector

func register(name, help string, fn updateFunc) {
	registry = append(registry, &collector{name: name, help: help, enabled: true, update: fn})
}

// registerOff registers a collector that runs only when asked for with
// --collector.<name> (one too costly for Kamailio to run by default).
func registerOff(name, help string, fn updateFunc) {
	registry = append(registry, &collector{name: name, help: help, enabled: false, update: fn})
}

// Names returns the collector names in scrape order.
func Names() []string {
	out := make([]string, len(registry))
	for i, c := range registry {
		out[i] = c.name
	}
	return out
}

// Selection holds the --[no-]collector.<name> flag values.
type Selection map[string]*bool

// AddFlags defines a --[no-]collector.<name> flag for every collector.
func AddFlags(app *kingpin.Application) Selection {
	sel := Selection{}
	for _, c := range registry {
		sel[c.name] = app.Flag("collector."+c.name,
			fmt.Sprintf("Enable the %s collector (%s).", c.name, c.help)).Default(strconv.FormatBool(c.enabled)).Bool()
	}
	return sel
}

var (
	upDesc = newDesc(namespace+"_up",
		"kamailio_exporter: Whether the Kamailio endpoint is up.", prometheus.GaugeValue)
	failureDesc = newDesc(namespace+"_failure_total",
		"kamailio_exporter: Scrapes that could not reach Kamailio: the connection to ctl failed, or its first request got no reply (refused, closed or timed out).", prometheus.CounterValue)
	durationDesc = newDesc(namespace+"_scrape_collector_duration_seconds",
		"kamailio_exporter: Duration of a collector scrape.", prometheus.GaugeValue, "collector")
	successDesc = newDesc(namespace+"_scrape_collector_success",
		"kamailio_exporter: Whether a collector succeeded.", prometheus.GaugeValue, "collector")
	roundsDesc = newDesc(namespace+"_exporter_scrape_rounds_total",
		"kamailio_exporter: Rounds of RPCs sent to Kamailio; scrapes that arrive during a round share it.", prometheus.CounterValue)
)

// listMethods is the discovery step; its success is reported under this
// collector label, as the reference exporter does.
const listMethods = "system.listMethods"

// Exporter scrapes one Kamailio. It is safe for concurrent use: every
// Collect dials its own connection and keeps its state on its own stack.
type Exporter struct {
	addr       binrpc.Address
	timeout    time.Duration
	settings   Settings
	collectors []*collector
	logger     *slog.Logger

	failureCount atomic.Uint64 // scrapes that could not reach Kamailio
	rounds       atomic.Uint64
	lastSize     atomic.Int64 // series of the last scrape
	lastLabels   atomic.Int64 // label bytes of the last scrape
	descs        descCache
	layout       atomic.Pointer[layout] // the families of the last scrape (page.layout)
	idle         idleConn
	runLog       runLog

	mu       sync.Mutex
	inflight *round

	// methods caches system.listMethods for the Kamailio that has been up
	// since upSince (core.uptime): modules cannot be loaded at run time, so
	// the list changes only with a restart.
	methodsMu sync.Mutex
	upSince   string
	methods   map[string]bool
	plan      []call
}

// round is one scrape of Kamailio, shared by the Collect calls that arrive
// while it runs. Its samples are immutable once done is closed.
type round struct {
	done   chan struct{}
	result *page
}

// NewExporter returns an Exporter for the ctl socket at addr running the
// selected collectors (all when sel is nil; a collector sel does not name
// runs when it is on by default).
func NewExporter(addr binrpc.Address, timeout time.Duration, settings Settings, sel Selection, logger *slog.Logger) *Exporter {
	e := &Exporter{addr: addr, timeout: timeout, settings: settings, logger: logger}
	for _, c := range registry {
		if sel == nil || (sel[c.name] == nil && c.enabled) || (sel[c.name] != nil && *sel[c.name]) {
			e.collectors = append(e.collectors, c)
		}
	}
	return e
}

// Close closes the connection kept between scrapes. A scrape after Close
// still works, on a connection of its own.
func (e *Exporter) Close() { e.idle.close() }

// Describe sends no descriptors: the families depend on what Kamailio
// reports, so the exporter is an unchecked collector.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect scrapes Kamailio within the configured timeout. Concurrent
// Collects share one round of RPCs: one is in flight per target, the others
// wait for its result, so several Prometheus servers cost Kamailio one round.
// The text exposition does not come through here but through Handler, which
// writes the scrape's compact page without building a prometheus.Metric per
// series.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	for _, m := range e.sharedScrape().metrics() {
		ch <- m
	}
}

func (e *Exporter) sharedScrape() *page {
	e.mu.Lock()
	if r := e.inflight; r != nil {
		e.mu.Unlock()
		<-r.done
		if r.result == nil { // the round panicked; its owner reports it
			return &page{}
		}
		return r.result
	}
	r := &round{done: make(chan struct{})}
	e.inflight = r
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inflight = nil
		e.mu.Unlock()
		close(r.done)
	}()
	r.result = e.Scrape(context.Background())
	return r.result
}

// status is one of a scrape's own samples, added to the page at its end.
type status struct {
	desc   *Desc
	value  float64
	labels []string
}

// Scrape runs one scrape, bounded by the exporter's timeout, and returns
// its finished page.
func (e *Exporter) Scrape(ctx context.Context) *page {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	out := &page{layout: e.layout.Load()}
	if out.layout != nil {
		out.descs = make([]*Desc, 0, len(out.layout.descs))
	}
	if n, l := e.lastSize.Load(), e.lastLabels.Load(); n > 0 {
		// The last scrape's size, so that the page is not copied growing.
		out.samples = make([]sample, 0, n+n/16)
		out.labels = make([]byte, 0, l+l/16)
	}
	var statuses []status
	addStatus := func(d *Desc, v float64, labels ...string) {
		statuses = append(statuses, status{d, v, labels})
	}
	var dropped []string
	defer func() {
		s := newSink(e.logger, out)
		for _, st := range statuses {
			s.Add(st.desc, st.value, st.labels...)
		}
		out.finish()
		e.layout.Store(out.layout)
		e.lastSize.Store(int64(len(out.samples)))
		e.lastLabels.Store(int64(len(out.labels)))
		if dropped = append(append(dropped, s.dropped...), out.dropped...); len(dropped) > 0 {
			e.logger.Warn("dropped duplicate or invalid series", "count", len(dropped), "first", dropped[0])
		}
	}()

	addStatus(roundsDesc, float64(e.rounds.Add(1)))
	conn := &redialConn{addr: e.addr, conn: e.idle.take()}
	conn.reused = conn.conn != nil
	defer func() { e.idle.put(conn.conn) }()

	begin := time.Now()
	conn.prefetch(ctx, e.lastPlan())
	methods, err := e.discover(ctx, conn)
	addStatus(durationDesc, time.Since(begin).Seconds(), listMethods)
	if err != nil {
		if errors.As(err, new(*unreachableError)) {
			e.failureCount.Add(1)
			e.logger.Error("Can not connect to kamailio", "address", e.addr.String(), "err", err)
		} else {
			e.logger.Error("collector failed", "collector", listMethods, "err", err)
		}
		addStatus(successDesc, 0, listMethods)
		addStatus(upDesc, 0)
		addStatus(failureDesc, float64(e.failureCount.Load()))
		return out
	}
	addStatus(successDesc, 1, listMethods)
	addStatus(upDesc, 1)
	addStatus(failureDesc, float64(e.failureCount.Load()))

	for _, c := range e.collectors {
		if !methods[c.name] {
			e.logger.Debug("collector skipped: method not available", "collector", c.name)
			continue
		}
		s := newSink(e.logger, out)
		s.descs = &e.descs
		s.run = &e.runLog
		begin := time.Now()
		err := e.run(ctx, c, conn, s)
		addStatus(durationDesc, time.Since(begin).Seconds(), c.name)
		if binrpc.IsMethodNotFound(err) {
			s.discard()
			e.logger.Debug("collector skipped: method not found", "collector", c.name)
			continue
		}
		if err != nil {
			s.discard()
			attrs := []any{"collector", c.name, "duration_seconds", time.Since(begin).Seconds(), "err", err}
			var f *binrpc.FaultError
			if errors.As(err, &f) {
				attrs = append(attrs, "code", f.Code, "message", f.Message)
			}
			e.logger.Error("collector failed", attrs...)
			addStatus(successDesc, 0, c.name)
			continue
		}
		addStatus(successDesc, 1, c.name)
		dropped = append(dropped, s.dropped...)
	}
	e.keepPlan(conn.calls)
	return out
}

// run calls a collector, turning a panic into an error.
func (e *Exporter) run(ctx context.Context, c *collector, conn Caller, s *Sink) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.update(ctx, conn, &e.settings, s)
}

// discover returns the set of RPC methods Kamailio exports: the cached
// list while core.uptime says Kamailio has not restarted, else a fresh
// system.listMethods. Any failure clears the cache. When core.uptime, the
// scrape's first request, gets no reply, the error is an *unreachableError.
func (e *Exporter) discover(ctx context.Context, c Caller) (map[string]bool, error) {
	upSince := ""
	st, err := callStruct(ctx, c, "core.uptime")
	if err == nil {
		upSince, _ = text(st, "up_since")
		upSince = strings.Clone(upSince) // kept between scrapes
	} else if noReply(err) || ctx.Err() != nil {
		e.forgetMethods()
		return nil, &unreachableError{err}
	}
	e.runLog.begin(upSince)
	e.methodsMu.Lock()
	cached := e.methods
	if upSince == "" || upSince != e.upSince {
		cached = nil
	}
	e.methodsMu.Unlock()
	if cached != nil {
		return cached, nil
	}
	methods, err := listAllMethods(ctx, c)
	if err != nil {
		e.forgetMethods()
		return nil, err
	}
	if upSince != "" {
		e.methodsMu.Lock()
		e.upSince, e.methods = upSince, methods
		e.methodsMu.Unlock()
	}
	return methods, nil
}

func (e *Exporter) forgetMethods() {
	e.methodsMu.Lock()
	e.upSince, e.methods, e.plan = "", nil, nil
	e.methodsMu.Unlock()
}

// lastPlan returns the calls the previous complete scrape made: the next
// scrape sends them all before reading the first reply.
func (e *Exporter) lastPlan() []call {
	e.methodsMu.Lock()
	defer e.methodsMu.Unlock()
	return e.plan
}

// keepPlan remembers the calls of a scrape whose discovery succeeded, but
// system.listMethods, which is needed only after a restart.
func (e *Exporter) keepPlan(calls []call) {
	plan := make([]call, 0, len(calls))
	for _, c := range calls {
		if c.method != listMethods {
			plan = append(plan, c)
		}
	}
	e.methodsMu.Lock()
	e.plan = plan
	e.methodsMu.Unlock()
}

// listAllMethods calls system.listMethods.
func listAllMethods(ctx context.Context, c Caller) (map[string]bool, error) {
	vals, err := c.Call(ctx, listMethods)
	if err != nil {
		return nil, err
	}
	methods := make(map[string]bool, len(vals))
	for _, v := range vals {
		if v.Kind == binrpc.KindString {
			// Cloned: the list outlives the reply it is decoded from.
			methods[strings.Clone(v.Str)] = true
		}
	}
	if len(methods) == 0 {
		return nil, fmt.Errorf("%s: reply lists no methods", listMethods)
	}
	return methods, nil
}

type dialError struct{ err error }

func (d *dialError) Error() string { return d.err.Error() }
func (d *dialError) Unwrap() error { return d.err }

// unreachableError is a discovery that got no reply to its first request:
// a scrape that could not reach Kamailio (kamailio_failure_total).
type unreachableError struct{ err error }

func (u *unreachableError) Error() string { return u.err.Error() }
func (u *unreachableError) Unwrap() error { return u.err }

// noReply reports whether err means that no reply came back, alike on
// every transport: the dial failed (unix, unixd, tcp), the socket reported
// an error (a udp or unixd request refused), the connection closed, or the
// deadline passed. A fault or a malformed reply did come from the peer.
func noReply(err error) bool {
	var ne net.Error
	return errors.As(err, new(*dialError)) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, binrpc.ErrClosed)
}

// redialConn dials on first use and again after an error left a stream
// connection unusable, so one broken reply costs one collector, not the
// rest of the scrape. It pipelines: prefetch sends the calls a scrape is
// expected to make (the previous scrape's) back to back before the first
// reply is read, and Call takes a prefetched reply when one matches. Kamailio
// then answers the whole scrape without waiting for the exporter between
// calls, and the exporter converts each reply while Kamailio works on the
// next.
type redialConn struct {
	addr binrpc.Address
	conn *binrpc.Conn
	// reused: conn was kept from an earlier scrape and has not answered
	// yet. If it turns out dead (Kamailio restarted or dropped it while it
	// was idle), the scrape starts over once on a new connection.
	reused bool

	plan    []call
	pending map[string][]*binrpc.Pending // prefetched, by callKey
	calls   []call                       // the calls made, in order
}

// call is one RPC of a scrape.
type call struct {
	method string
	args   []any
}

// callKey identifies a call by method and arguments.
func callKey(method string, args []any) string {
	if len(args) == 0 {
		return method
	}
	b := []byte(method)
	for _, a := range args {
		b = fmt.Appendf(append(b, 0), "%T:%v", a, a)
	}
	return string(b)
}

func (r *redialConn) dial(ctx context.Context) error {
	if r.conn != nil {
		return nil
	}
	c, err := binrpc.Dial(ctx, r.addr, binrpc.Options{})
	if err != nil {
		return &dialError{err}
	}
	r.conn = c
	return nil
}

// prefetch sends plan without waiting for the replies. A failure is not
// reported here: the calls are then made one by one when asked for.
func (r *redialConn) prefetch(ctx context.Context, plan []call) {
	r.plan = plan
	if len(plan) == 0 || r.dial(ctx) != nil {
		return
	}
	r.pending = make(map[string][]*binrpc.Pending, len(plan))
	for _, c := range plan {
		p, err := r.conn.Send(ctx, c.method, c.args...)
		if err != nil {
			return
		}
		k := callKey(c.method, c.args)
		r.pending[k] = append(r.pending[k], p)
	}
}

func (r *redialConn) Call(ctx context.Context, method string, args ...any) ([]binrpc.Value, error) {
	r.calls = append(r.calls, call{method, args})
	vals, err := r.call(ctx, method, args)
	if r.reused && r.conn == nil && ctx.Err() == nil {
		// The kept connection broke before it answered anything: start
		// over on a new one.
		r.reused = false
		r.prefetch(ctx, r.plan)
		vals, err = r.call(ctx, method, args)
	}
	if r.conn != nil {
		r.reused = false // it answered
	}
	return vals, err
}

func (r *redialConn) call(ctx context.Context, method string, args []any) ([]binrpc.Value, error) {
	if k := callKey(method, args); len(r.pending[k]) > 0 {
		p := r.pending[k][0]
		r.pending[k] = r.pending[k][1:]
		vals, err := p.Wait(ctx)
		r.check(err)
		if !errors.Is(err, binrpc.ErrAbandoned) {
			return vals, err
		}
		// The connection broke before this reply was read: ask again on a
		// new one.
	}
	if err := r.dial(ctx); err != nil {
		return nil, err
	}
	vals, err := r.conn.Call(ctx, method, args...)
	r.check(err)
	return vals, err
}

// check drops a connection that err left unusable, with the replies still
// expected on it.
func (r *redialConn) check(err error) {
	if err != nil && r.conn != nil && r.conn.Err() != nil {
		r.conn.Close()
		r.conn = nil
		r.pending = nil
	}
}

// maxIdle is how long the connection of the last scrape is kept for the
// next one. Scrape intervals are usually 15 s to 1 min.
const maxIdle = 2 * time.Minute

// idleConn keeps one connection between scrapes, so that a scrape does not
// cost Kamailio an accept and a close (and a fresh connection's slower
// first answers: 0.3-0.4 ms per scrape measured). A connection is kept only
// when nothing is in flight on it, and is closed after maxIdle unused.
type idleConn struct {
	mu     sync.Mutex
	conn   *binrpc.Conn
	timer  *time.Timer
	closed bool
}

func (p *idleConn) take() *binrpc.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conn
	p.conn = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	return c
}

func (p *idleConn) put(c *binrpc.Conn) {
	if c == nil {
		return
	}
	if !c.Idle() {
		c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil || p.closed {
		c.Close() // another scrape's connection is kept already
		return
	}
	p.conn = c
	p.timer = time.AfterFunc(maxIdle, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.conn == c {
			p.conn, p.timer = nil, nil
			c.Close()
		}
	})
}

func (p *idleConn) close() {
	c := p.take()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// scalar helpers shared by the collectors

// callStruct calls method and returns its reply's single struct; a fault
// is returned as it is.
func callStruct(ctx context.Context, c Caller, method string, args ...any) (binrpc.Value, error) {
	vals, err := c.Call(ctx, method, args...)
	if err != nil {
		return binrpc.Value{}, err
	}
	return onlyStruct(method, vals)
}

// onlyStruct returns the single struct of a reply.
func onlyStruct(method string, vals []binrpc.Value) (binrpc.Value, error) {
	if len(vals) != 1 || vals[0].Kind != binrpc.KindStruct {
		return binrpc.Value{}, fmt.Errorf("%s: want one struct, got %s", method, shape(vals))
	}
	return vals[0], nil
}

// structs returns a reply made of structs only (one per process, table…).
func structs(method string, vals []binrpc.Value) ([]binrpc.Value, error) {
	for _, v := range vals {
		if v.Kind != binrpc.KindStruct {
			return nil, fmt.Errorf("%s: want structs, got %s", method, shape(vals))
		}
	}
	return vals, nil
}

func shape(vals []binrpc.Value) string {
	kinds := make([]string, 0, min(len(vals), 4))
	for i, v := range vals {
		if i == 4 {
			kinds = append(kinds, "…")
			break
		}
		kinds = append(kinds, v.Kind.String())
	}
	return fmt.Sprintf("%d values %v", len(vals), kinds)
}

// number returns the numeric member key of a struct.
func number(st binrpc.Value, key string) (float64, error) {
	v, ok := st.Get(key)
	if !ok {
		return 0, fmt.Errorf("member %q missing", key)
	}
	f, err := v.Float()
	if err != nil {
		return 0, fmt.Errorf("member %q: %w", key, err)
	}
	return f, nil
}

// text returns the scalar member key of a struct as text.
func text(st binrpc.Value, key string) (string, error) {
	v, ok := st.Get(key)
	if !ok {
		return "", fmt.Errorf("member %q missing", key)
	}
	s, err := v.Text()
	if err != nil {
		return "", fmt.Errorf("member %q: %w", key, err)
	}
	return s, nil
}

// field maps a struct member to a family.
type field struct {
	key  string
	desc *Desc
}

// addFields adds one sample per field present in st. Missing members are
// skipped (older Kamailio versions lack some); a present member that is not
// a number is an error.
func addFields(s *Sink, st binrpc.Value, fields []field, labelValues ...string) error {
	for _, f := range fields {
		v, ok := st.Get(f.key)
		if !ok {
			continue
		}
		n, err := asSample(v, f.desc)
		if err != nil {
			return fmt.Errorf("member %q: %w", f.key, err)
		}
		s.Add(f.desc, n, labelValues...)
	}
	return nil
}

// asSample is v as a sample of d. ctl sends a C int as a 32-bit BINRPC
// int: a counter held in an unsigned int (tm.stats') arrives negative once
// it passes 2^31, and is read back as unsigned.
func asSample(v binrpc.Value, d *Desc) (float64, error) {
	n, err := v.Float()
	if err == nil && n < 0 && d.typ == prometheus.CounterValue && v.Kind == binrpc.KindInt && n >= math.MinInt32 {
		n += 1 << 32
	}
	return n, err
}

func asFault(err error, f **binrpc.FaultError) bool { return errors.As(err, f) }
