package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sync/singleflight"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

// Caller sends one RPC and returns its reply's top-level values; a fault is
// a *binrpc.FaultError. CallEncoded leaves the top-level structs and arrays
// encoded (binrpc.Pending.WaitEncoded): a collector walks a large reply
// with Value.Walk, in one pass, without building its member slices.
type Caller interface {
	Call(ctx context.Context, method string, args ...any) ([]binrpc.Value, error)
	CallEncoded(ctx context.Context, method string, args ...any) ([]binrpc.Value, error)
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
	// CustomMetricsURL is Kamailio's xhttp_prom page, fetched and appended
	// to each scrape ("": none), with CustomMetricsClient (nil: Go's
	// default client).
	CustomMetricsURL    string
	CustomMetricsClient *http.Client
}

// updateFunc runs one collector: it calls its RPCs through c and adds the
// resulting samples to s. An error discards everything it added.
type updateFunc func(ctx context.Context, c Caller, cfg *Settings, s *Sink) error

type collector struct {
	name   string // the RPC method, also the `collector` label value
	help   string
	off    bool // off unless --collector.<name> is given
	update updateFunc
	// calls are the requests the collector will make, given what this
	// Kamailio run has shown, sent ahead with the others; nil: just its
	// method.
	calls func(*Settings, *kamailioRun) []binrpc.Request
}

// collectors lists the collectors in scrape order. Where two fill one
// family (a shared Desc), the earlier one's series win: stats.fetch's
// shared memory over core.shmmem's, core.tcp_info's TLS limit over
// tls.info's.
var collectors = []*collector{
	{name: "core.psa", help: "process status", update: updateCorePSA},
	{name: "core.runinfo", help: "uptime and build", update: updateCoreRuninfo, calls: runinfoCalls},
	{name: "core.tcp_info", help: "TCP/TLS limits and readers", update: updateCoreTCPInfo},
	{name: "core.info", help: "Kamailio version and build flags", update: updateCoreInfo},
	{name: "dlg.stats_active", help: "active dialogs by state", update: updateDlgStatsActive},
	{name: "dlg.profile_get_size", help: "dialogs per profile (--collector.dialog.profiles)", update: updateDlgProfileSize, calls: dlgProfileCalls},
	{name: "dispatcher.list", help: "dispatcher destinations", update: updateDispatcherList},
	{name: "htable.listTables", help: "hash table settings", update: updateHtableList},
	{name: "htable.stats", help: "hash table sizes", update: updateHtableStats},
	{name: "pkg.stats", help: "private memory per process", update: updatePkgStats},
	{name: "rtpengine.show", help: "rtpengine node status", update: updateRtpengineShow, calls: fixed("rtpengine.show", "all")},
	{name: "sl.stats", help: "stateless replies per code", update: updateSLStats},
	{name: "tm.stats", help: "transactions", update: updateTMStats},
	{name: "stats.fetch", help: "core and module statistics, scripted statistics", update: updateStatsFetch, calls: statsCalls},
	{name: "core.shmmem", help: "shared memory, when stats.fetch does not report it", update: updateCoreShmmem, calls: shmmemCalls},
	{name: "tls.info", help: "TLS module connections", update: updateTLSInfo},
	{name: "uac.reg_dump", help: "uac remote registrations", update: updateUACRegDump},
	{name: "dmq.list_nodes", help: "DMQ cluster nodes", update: updateDMQListNodes},
	{name: "keepalive.list", help: "keepalive destinations", update: updateKeepaliveList, calls: keepaliveCalls},
	{name: "mod.mem_stats", help: "memory per module; walks Kamailio's allocation tables, off by default", off: true,
		update: updateModMemStats, calls: fixed("mod.mem_stats", "all", "all")},
}

// listMethods is the discovery step; its success is reported under this
// collector label, as the reference exporter does.
const listMethods = "system.listMethods"

// fixed declares a collector's one request with arguments.
func fixed(method string, args ...any) func(*Settings, *kamailioRun) []binrpc.Request {
	return func(*Settings, *kamailioRun) []binrpc.Request { return []binrpc.Request{{Method: method, Args: args}} }
}

// requests returns c's requests under cfg in run.
func (c *collector) requests(cfg *Settings, run *kamailioRun) []binrpc.Request {
	if c.calls != nil {
		return c.calls(cfg, run)
	}
	return []binrpc.Request{{Method: c.name}}
}

// Names returns the collector names in scrape order.
func Names() []string {
	out := make([]string, 0, len(collectors))
	for _, c := range collectors {
		out = append(out, c.name)
	}
	return out
}

// Selection holds the --[no-]collector.<name> flag values.
type Selection map[string]*bool

// AddFlags defines a --[no-]collector.<name> flag for every collector.
func AddFlags(app *kingpin.Application) Selection {
	sel := Selection{}
	for _, c := range collectors {
		sel[c.name] = app.Flag("collector."+c.name,
			fmt.Sprintf("Enable the %s collector (%s).", c.name, c.help)).Default(fmt.Sprint(!c.off)).Bool()
	}
	return sel
}

var (
	upDesc = newDesc(namespace+"_up",
		"kamailio_exporter: Whether the Kamailio endpoint is up.", prometheus.GaugeValue)
	failureDesc = newDesc(namespace+"_failure_total",
		"kamailio_exporter: Scrapes that could not reach Kamailio: the connection to ctl failed, or its first request got no reply (refused, closed or timed out).", prometheus.CounterValue)
	durationDesc = newDesc(namespace+"_scrape_collector_duration_seconds",
		"kamailio_exporter: Duration of a collector scrape: from its first request to its last reply (its requests are sent with the scrape's others).", prometheus.GaugeValue, "collector")
	successDesc = newDesc(namespace+"_scrape_collector_success",
		"kamailio_exporter: Whether a collector succeeded.", prometheus.GaugeValue, "collector")
	roundsDesc = newDesc(namespace+"_exporter_scrape_rounds_total",
		"kamailio_exporter: Rounds of RPCs sent to Kamailio; scrapes that arrive during a round share it.", prometheus.CounterValue)
)

// Exporter scrapes one Kamailio. It is safe for concurrent use: concurrent
// scrapes share one round of RPCs.
type Exporter struct {
	addr       binrpc.Address
	timeout    time.Duration
	settings   Settings
	collectors []*collector
	logger     *slog.Logger

	failures atomic.Uint64 // scrapes that could not reach Kamailio
	rounds   atomic.Uint64
	run      kamailioRun
	idle     binrpc.KeptConn // the connection kept between scrapes
	custom   *customFetcher

	inflight singleflight.Group // the round in flight; its page is immutable
	trace    *trace             // the RPCs of a debug scrape (DebugScrape); nil otherwise
}

// NewExporter returns an Exporter for the ctl socket at addr running the
// selected collectors: those sel turns on, and those it does not name that
// are on by default; every collector when sel is nil.
func NewExporter(addr binrpc.Address, timeout time.Duration, settings Settings, sel Selection, logger *slog.Logger) *Exporter {
	e := &Exporter{addr: addr, timeout: timeout, settings: settings, logger: logger}
	for _, c := range collectors {
		if on := sel[c.name]; sel == nil || on != nil && *on || on == nil && !c.off {
			e.collectors = append(e.collectors, c)
		}
	}
	if settings.CustomMetricsURL != "" {
		client := settings.CustomMetricsClient
		if client == nil {
			client = &http.Client{}
		}
		e.custom = &customFetcher{url: settings.CustomMetricsURL, client: client, logger: logger}
	}
	return e
}

// ReleaseIdleBuffers makes the connection kept between scrapes give its
// read buffers back while it is idle (binrpc.KeptConn.Lean), for an
// exporter that is one of thousands (the targets of /probe). Call it
// before the first scrape.
func (e *Exporter) ReleaseIdleBuffers() { e.idle.Lean = true }

// Close closes the connection kept between scrapes. A scrape after Close
// still works, on a connection of its own.
func (e *Exporter) Close() { e.idle.Close() }

// result is a finished scrape, immutable.
type result struct {
	page *page.Page
	// custom holds the families of Kamailio's xhttp_prom page, sorted by
	// name.
	custom []*dto.MetricFamily
}

// sharedScrape scrapes Kamailio, or waits for the scrape in flight (whose
// deadline then holds): one round is in flight per Kamailio, so several
// Prometheus servers cost it one round. shared tells that the result went
// to more than one caller; when it did not, the caller may release its
// page once written.
func (e *Exporter) sharedScrape(ctx context.Context) (res *result, shared bool) {
	r, _, shared := e.inflight.Do("", func() (any, error) { return e.scrape(ctx), nil })
	return r.(*result), shared
}

// scrape runs one scrape, bounded by ctx and the exporter's timeout.
func (e *Exporter) scrape(ctx context.Context) *result {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	out := &result{page: page.Get()}
	own := newSink(e.logger, out.page) // the scrape's own samples
	custom := e.custom.start(ctx)
	e.round(ctx, out.page, own)
	out.custom = custom(own)
	out.page.Finish()
	if dropped := out.page.Dropped(); len(dropped) > 0 {
		// Once per Kamailio run and first series: the same cause would
		// log on every scrape.
		e.run.warnOnce(e.logger, "dropped\x00"+dropped[0], "dropped duplicate or invalid series", "count", len(dropped), "first", dropped[0])
	}
	return out
}

// round runs discovery and the collectors on the kept connection (or a new
// one), adding their series to out and the scrape's own samples to own.
func (e *Exporter) round(ctx context.Context, out *page.Page, own *Sink) {
	status := own.Add
	status(roundsDesc, float64(e.rounds.Add(1)))
	kept := e.idle.Take()
	conn := binrpc.NewSession(e.addr, kept)
	defer func() { e.idle.Put(conn.End(ctx)) }()

	// Kamailio's own time starts here.
	begin := time.Now()
	known := e.run.knownMethods()
	steps := e.plan(known)
	calls := append([]binrpc.Request{{Method: "core.uptime"}}, requests(steps)...)
	conn.Send(ctx, calls)
	methods, err := e.discover(ctx, e.traced(conn, listMethods))
	if kept != nil && errors.As(err, new(*unreachableError)) && ctx.Err() == nil {
		// The kept connection died while idle (Kamailio restarted or
		// dropped it): again on a new one.
		conn.Close()
		conn = binrpc.NewSession(e.addr, nil)
		conn.Send(ctx, calls)
		methods, err = e.discover(ctx, e.traced(conn, listMethods))
	}
	if errors.As(err, new(*unreachableError)) {
		e.failures.Add(1)
		e.logger.Error("Can not connect to kamailio", "address", e.addr.String(), "err", err)
	} else if err != nil {
		e.logger.Error("collector failed", "collector", listMethods, "err", err)
	}
	up := b2f(err == nil)
	status(durationDesc, time.Since(begin).Seconds(), listMethods)
	status(successDesc, up, listMethods)
	status(upDesc, up)
	status(failureDesc, float64(e.failures.Load()))
	if err != nil {
		return
	}
	if known == nil {
		// The first scrape of this exporter or of a Kamailio run: the
		// requests go out now that the methods are known.
		begin = time.Now()
		steps = e.plan(methods)
		conn.Send(ctx, requests(steps))
	} else if methods != known {
		// Kamailio restarted since the last scrape: its modules may
		// differ. The requests already sent are taken where they match;
		// the collectors make the others themselves.
		steps = e.plan(methods)
	}
	// Every reply is read before any is converted (binrpc.Session.Receive).
	conn.Receive(ctx)
	for _, st := range steps {
		if st.missing != "" {
			own.Add(successDesc, 0, st.c.name)
			e.run.warnOnce(e.logger, "missing method\x00"+st.c.name,
				"collector cannot run: Kamailio lacks a method it needs", "collector", st.c.name, "method", st.missing)
			continue
		}
		e.collect(ctx, st.c, conn, out, own, begin)
	}
}

// step is what a scrape does with one enabled collector whose module
// Kamailio has loaded: send its calls, or report that it cannot run
// because Kamailio lacks the method missing.
type step struct {
	c       *collector
	calls   []binrpc.Request
	missing string
}

// plan returns the steps of a scrape of a Kamailio exporting methods (nil:
// not known yet, none), in collector order. A collector whose module
// Kamailio has not loaded is left out: it is skipped without a word.
func (e *Exporter) plan(methods *methodSet) []step {
	if methods == nil {
		return nil
	}
	var steps []step
	for _, c := range e.collectors {
		if !methods.loaded(c.name) {
			e.logger.Debug("collector skipped: module not loaded", "collector", c.name)
			continue
		}
		st := step{c: c, calls: c.requests(&e.settings, &e.run)}
		for _, r := range st.calls {
			if !methods.has(r.Method) {
				st.missing, st.calls = r.Method, nil
				break
			}
		}
		steps = append(steps, st)
	}
	return steps
}

// requests returns the requests of steps, in order, sent before the first
// reply is read.
func requests(steps []step) []binrpc.Request {
	var calls []binrpc.Request
	for _, st := range steps {
		calls = append(calls, st.calls...)
	}
	return calls
}

// collect runs collector c, whose first request went out at begin: its
// series go to out if it succeeds, its status to own. Its duration runs
// to the arrival of the reply its last call took (all were read before
// any collector ran), or to its end when that call got none.
func (e *Exporter) collect(ctx context.Context, c *collector, conn *binrpc.Session, out *page.Page, own *Sink, begin time.Time) {
	s := newSink(e.logger, out)
	s.descs, s.run = &statDescs, &e.run
	err := e.update(ctx, c, e.traced(conn, c.name), s)
	end := conn.Arrived()
	if end.IsZero() {
		end = time.Now()
	}
	took := end.Sub(begin).Seconds()
	own.Add(durationDesc, took, c.name)
	switch {
	case err != nil:
		s.discard()
		attrs := []any{"collector", c.name, "duration_seconds", took, "err", err}
		var f *binrpc.FaultError
		if errors.As(err, &f) {
			attrs = append(attrs, "code", f.Code, "message", f.Message)
		}
		e.logger.Error("collector failed", attrs...)
		own.Add(successDesc, 0, c.name)
	default:
		own.Add(successDesc, 1, c.name)
	}
}

// update runs c's update, turning a panic into an error.
func (e *Exporter) update(ctx context.Context, c *collector, conn Caller, s *Sink) (err error) {
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
func (e *Exporter) discover(ctx context.Context, c Caller) (*methodSet, error) {
	upSince := ""
	st, err := callStruct(ctx, c, "core.uptime")
	if err == nil {
		upSince, _ = text(st, "up_since")
		upSince = strings.Clone(upSince) // kept between scrapes
	} else if binrpc.NoReply(err) || ctx.Err() != nil {
		e.run.setMethods(nil)
		return nil, &unreachableError{err}
	}
	if cached := e.run.begin(upSince); cached != nil {
		return cached, nil
	}
	methods, err := listAllMethods(ctx, c)
	e.run.setMethods(methods)
	return methods, err
}

// unreachableError is a discovery that got no reply to its first request:
// a scrape that could not reach Kamailio (kamailio_failure_total).
type unreachableError struct{ err error }

func (u *unreachableError) Error() string { return u.err.Error() }
func (u *unreachableError) Unwrap() error { return u.err }

// kamailioRun is what the exporter learned of one run of Kamailio,
// identified by core.uptime's up_since: its method list, what was logged
// once, facts a collector found (a reply too large for ctl), each a number
// under a key. Kamailio loads its modules and declares its statistics at
// start-up only, so all of it holds until a restart, which forgets it.
type kamailioRun struct {
	mu      sync.Mutex
	upSince string
	methods *methodSet // system.listMethods
	facts   sync.Map   // string -> int
	groups  []string   // the statistics groups, once read (statGroups)
}

// begin starts a scrape of the run up since upSince ("": unknown, a new
// run every time) and returns its method list, nil when not known yet.
func (r *kamailioRun) begin(upSince string) *methodSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if upSince == "" || upSince != r.upSince {
		r.upSince, r.methods, r.groups = upSince, nil, nil
		r.facts.Clear()
	}
	return r.methods
}

// setMethods keeps the method list of a known run; nil forgets it.
func (r *kamailioRun) setMethods(methods *methodSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.upSince != "" || methods == nil {
		r.methods = methods
	}
}

// knownMethods returns the last method list, or nil.
func (r *kamailioRun) knownMethods() *methodSet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.methods
}

// has reports whether Kamailio exports method in this run. Outside a
// scrape (a collector run alone, in the tests and benchmarks) the methods
// are not known, and every method is taken as present.
func (r *kamailioRun) has(method string) bool {
	m := r.knownMethods()
	return m == nil || m.has(method)
}

// warnOnce logs msg as a warning the first time key is seen in this run.
func (r *kamailioRun) warnOnce(logger *slog.Logger, key, msg string, attrs ...any) {
	if r.learn("log\x00" + key) {
		logger.Warn(msg, attrs...)
	}
}

// statGroups returns the statistics groups read in this run, nil if none.
func (r *kamailioRun) statGroups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.groups
}

// setStatGroups records the statistics groups of this run.
func (r *kamailioRun) setStatGroups(groups []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = groups
}

// knows reports whether key was learned in this run.
func (r *kamailioRun) knows(key string) bool { return r.number(key) != 0 }

// learn records key and reports whether it is new in this run.
func (r *kamailioRun) learn(key string) bool {
	_, known := r.facts.LoadOrStore(key, 1)
	return !known
}

// number returns the number learned under key in this run, 0 if none.
func (r *kamailioRun) number(key string) int {
	n, _ := r.facts.Load(key)
	i, _ := n.(int)
	return i
}

// setNumber records n under key for this run.
func (r *kamailioRun) setNumber(key string, n int) { r.facts.Store(key, n) }

// methodSet is the RPC methods a Kamailio run exports, and the modules
// they belong to: a method's module is the part of its name before the
// first dot ("dispatcher" of "dispatcher.list"), as Kamailio names them.
type methodSet struct {
	methods map[string]bool
	modules map[string]bool
}

// has reports whether method is exported.
func (m *methodSet) has(method string) bool { return m.methods[method] }

// loaded reports whether the module of method exports any method.
func (m *methodSet) loaded(method string) bool { return m.modules[module(method)] }

// module returns the module part of a method's name.
func module(method string) string {
	mod, _, _ := strings.Cut(method, ".")
	return mod
}

// listAllMethods calls system.listMethods.
func listAllMethods(ctx context.Context, c Caller) (*methodSet, error) {
	vals, err := c.Call(ctx, listMethods)
	if err != nil {
		return nil, err
	}
	m := &methodSet{methods: make(map[string]bool, len(vals)), modules: map[string]bool{}}
	for _, v := range vals {
		if v.Kind == binrpc.KindString {
			// Cloned: the list outlives the reply it is decoded from.
			name := strings.Clone(v.Str)
			m.methods[name] = true
			m.modules[module(name)] = true
		}
	}
	if len(m.methods) == 0 {
		return nil, fmt.Errorf("%s: reply lists no methods", listMethods)
	}
	return m, nil
}
