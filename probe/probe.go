// Package probe serves /probe?target=URI: a scrape of the Kamailio at that
// BINRPC URI, for one exporter watching a fleet through Prometheus
// relabelling (as blackbox_exporter and mysqld_exporter do).
//
// A probe endpoint makes the exporter connect where a URL says, so targets
// are restricted: a config file lists the allowed targets (exact URIs or
// patterns), with a timeout and collector set each. Without a config file
// only the exporter's own --kamailio.binrpc-uri is allowed.
package probe

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.yaml.in/yaml/v2"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/collector"
)

// Config is the --config.file content.
type Config struct {
	Targets []Target `yaml:"targets"`
}

// Target allows the BINRPC URIs matching Match: an exact URI, or a shell
// pattern (path.Match syntax: *, ?, [...]) over the normalised URI, e.g.
// "tcp://10.0.0.*:2046".
type Target struct {
	Match      string        `yaml:"match"`
	Timeout    time.Duration `yaml:"timeout,omitempty"`
	Collectors []string      `yaml:"collectors,omitempty"`
}

// Load reads and validates a config file.
func Load(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	known := collector.Names()
	for i, t := range c.Targets {
		if t.Match == "" {
			return nil, fmt.Errorf("%s: target %d: match is empty", file, i+1)
		}
		if _, err := path.Match(t.Match, ""); err != nil {
			return nil, fmt.Errorf("%s: target %d: bad pattern %q: %w", file, i+1, t.Match, err)
		}
		if t.Timeout < 0 {
			return nil, fmt.Errorf("%s: target %d: negative timeout", file, i+1)
		}
		for _, name := range t.Collectors {
			if !slices.Contains(known, name) {
				return nil, fmt.Errorf("%s: target %d: unknown collector %q (known: %s)", file, i+1, name, strings.Join(known, ", "))
			}
		}
	}
	return &c, nil
}

// match returns the first target allowing addr.
func (c *Config) match(uri string, addr binrpc.Address) (Target, bool) {
	for _, t := range c.Targets {
		if t.Match == uri || t.Match == addr.String() {
			return t, true
		}
		if ok, _ := path.Match(t.Match, addr.String()); ok {
			return t, true
		}
	}
	return Target{}, false
}

// Handler serves /probe.
type Handler struct {
	file     string // config file, "" for none
	own      binrpc.Address
	timeout  time.Duration
	settings collector.Settings
	sel      collector.Selection
	logger   *slog.Logger

	reloadMu      sync.Mutex // one reload at a time
	reloadSuccess prometheus.Gauge
	reloadTime    prometheus.Gauge

	mu  sync.Mutex
	cfg *Config
	// The per-target exporters kept between probes: each holds its
	// target's connection, its failure counter, what its Kamailio run has
	// shown (methods, statistics' shape) and shares concurrent rounds.
	// At most max are kept; past that, the target probed least recently
	// is dropped, alone.
	targets map[string]*list.Element // of *target, by normalised URI
	lru     list.List                // most recently probed first
	max     int
}

// target is a kept per-target exporter and the settings it was made with.
type target struct {
	addr     binrpc.Address // its key in Handler.targets is addr.String()
	uri      string         // as the probe that made it wrote it
	timeout  time.Duration
	sel      []string // the config entry's collectors; nil: the enabled ones
	exporter *collector.Exporter
}

// DefaultMaxTargets is the default bound on the targets kept.
const DefaultMaxTargets = 10000

// NewHandler returns a probe handler; file is the config file ("" for
// none) and is loaded now. It keeps the state of at most maxTargets
// targets between probes.
func NewHandler(file string, own binrpc.Address, timeout time.Duration, maxTargets int, settings collector.Settings, sel collector.Selection, logger *slog.Logger) (*Handler, error) {
	h := &Handler{file: file, own: own, timeout: timeout, settings: settings, sel: sel, logger: logger,
		targets: map[string]*list.Element{}, max: max(maxTargets, 1),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kamailio_exporter_config_last_reload_successful",
			Help: "Whether the last load of --config.file succeeded.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kamailio_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful load of --config.file.",
		}),
	}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// ReloadMetrics returns the gauges of the config file's loads, to be
// registered when there is a config file.
func (h *Handler) ReloadMetrics() []prometheus.Collector {
	return []prometheus.Collector{h.reloadSuccess, h.reloadTime}
}

// Reload re-reads the config file. An invalid file is refused and the
// current config kept. Reloads (SIGHUP, /-/reload) run one at a time, so
// the config in force is always the one read last.
func (h *Handler) Reload() error {
	if h.file == "" {
		return nil
	}
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	cfg, err := Load(h.file)
	if err != nil {
		h.reloadSuccess.Set(0)
		h.logger.Error("config reload failed; keeping the current config", "file", h.file, "err", err)
		return err
	}
	h.mu.Lock()
	h.cfg = cfg
	// A target whose entry changed (or that no entry allows any more) is
	// dropped; the others keep their connection and counters.
	var gone []*collector.Exporter
	for _, el := range h.targets {
		t := el.Value.(*target)
		if timeout, sel, ok := h.settingsFor(t.uri, t.addr); !ok || timeout != t.timeout || !slices.Equal(sel, t.sel) {
			gone = append(gone, h.remove(el))
		}
	}
	h.mu.Unlock()
	for _, e := range gone {
		e.Close()
	}
	h.reloadSuccess.Set(1)
	h.reloadTime.SetToCurrentTime()
	h.logger.Info("config loaded", "file", h.file, "targets", len(cfg.Targets))
	return nil
}

// Close closes the connections the probes keep to their targets.
func (h *Handler) Close() {
	h.mu.Lock()
	var gone []*collector.Exporter
	for _, el := range h.targets {
		gone = append(gone, h.remove(el))
	}
	h.mu.Unlock()
	for _, e := range gone {
		e.Close()
	}
}

// remove forgets a kept target and returns its exporter, to be closed
// outside the lock (a probe still running on it finishes on its own
// connection).
func (h *Handler) remove(el *list.Element) *collector.Exporter {
	t := h.lru.Remove(el).(*target)
	delete(h.targets, t.addr.String())
	return t.exporter
}

// Kept returns how many targets are kept.
func (h *Handler) Kept() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.targets)
}

var errForbidden = errors.New("target not allowed")

// ExampleTarget returns a target that may be probed now, for the landing
// page's link: --kamailio.binrpc-uri when allowed, else the first target
// of the config file that is an exact URI, else "".
func (h *Handler) ExampleTarget() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg == nil {
		return h.own.String()
	}
	if _, ok := h.cfg.match(h.own.String(), h.own); ok {
		return h.own.String()
	}
	for _, t := range h.cfg.Targets {
		if addr, err := binrpc.ParseURI(t.Match); err == nil && !strings.ContainsAny(t.Match, "*?[") {
			return addr.String()
		}
	}
	return ""
}

// settingsFor returns the timeout and collectors of a target allowed
// now (sel nil: the enabled collectors); ok is false when it is not
// allowed.
func (h *Handler) settingsFor(uri string, addr binrpc.Address) (timeout time.Duration, sel []string, ok bool) {
	if h.cfg == nil {
		return h.timeout, nil, addr == h.own
	}
	t, ok := h.cfg.match(uri, addr)
	if !ok {
		return 0, nil, false
	}
	timeout = h.timeout
	if t.Timeout > 0 {
		timeout = t.Timeout
	}
	return timeout, t.Collectors, true
}

// selection is the collector selection of a target entry's collectors
// (nil: the enabled ones).
func (h *Handler) selection(names []string) collector.Selection {
	if names == nil {
		return h.sel
	}
	sel := collector.Selection{}
	for _, n := range collector.Names() {
		on := slices.Contains(names, n)
		sel[n] = &on
	}
	return sel
}

// allowed returns the address, timeout and collectors (nil: the enabled
// ones) of a target URI that may be probed now; an error wrapping
// errForbidden says why it may not. h.mu must be held.
func (h *Handler) allowed(uri string) (addr binrpc.Address, timeout time.Duration, names []string, err error) {
	addr, err = binrpc.ParseURI(uri)
	if err != nil {
		return addr, 0, nil, err
	}
	timeout, names, ok := h.settingsFor(uri, addr)
	switch {
	case !ok && h.cfg != nil:
		return addr, 0, nil, fmt.Errorf("%w: %s matches no target of %s", errForbidden, addr, h.file)
	case !ok:
		return addr, 0, nil, fmt.Errorf("%w: without --config.file only %s (--kamailio.binrpc-uri) may be probed; list other targets in a --config.file", errForbidden, h.own)
	}
	return addr, timeout, names, nil
}

// refuse answers a probe of target that allowed refused: 403 for a
// target not allowed (logged), 400 for a URI that is not one.
func (h *Handler) refuse(w http.ResponseWriter, target string, err error) {
	if errors.Is(err, errForbidden) {
		h.logger.Warn("probe refused", "target", target, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// exporter returns the kept exporter for a target URI, or a new one, kept
// in place of the target probed least recently when max are kept.
func (h *Handler) exporter(uri string) (*collector.Exporter, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	addr, timeout, names, err := h.allowed(uri)
	if err != nil {
		return nil, err
	}
	key := addr.String()
	if el, ok := h.targets[key]; ok {
		h.lru.MoveToFront(el)
		return el.Value.(*target).exporter, nil
	}
	if len(h.targets) >= h.max {
		old := h.remove(h.lru.Back())
		go old.Close() // its connection; not under the lock
	}
	e := collector.NewExporter(addr, timeout, h.settings, h.selection(names), h.logger.With("target", key))
	e.ReleaseIdleBuffers()
	h.targets[key] = h.lru.PushFront(&target{addr: addr, uri: uri, timeout: timeout, sel: names, exporter: e})
	return e, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	if target == "" {
		http.Error(w, "the target parameter is missing: /probe?target=tcp://host:port", http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("debug") == "true" {
		h.debug(w, r, target)
		return
	}
	e, err := h.exporter(target)
	if err != nil {
		h.refuse(w, target, err)
		return
	}
	e.Handler(noOtherFamilies, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}, h.logger).ServeHTTP(w, r)
}

// noOtherFamilies is what a probe adds to its target's families: nothing
// (no process or Go metrics of the exporter's own), gathered without
// building a registry per probe.
var noOtherFamilies = prometheus.Gatherers{}

// debug answers /probe?target=URI&debug=true: a scrape of its own of the
// target, told as text (collector.DebugScrape), for an operator asking why
// it is down. The target must be allowed, as for a probe.
func (h *Handler) debug(w http.ResponseWriter, r *http.Request, target string) {
	h.mu.Lock()
	addr, timeout, names, err := h.allowed(target)
	sel := h.selection(names)
	h.mu.Unlock()
	if err != nil {
		h.refuse(w, target, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := collector.DebugScrape(r.Context(), w, addr, timeout, h.settings, sel); err != nil {
		h.logger.Debug("writing a debug probe failed", "target", addr.String(), "err", err)
	}
}

// ReloadHandler serves POST /-/reload.
func (h *Handler) ReloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if h.file == "" {
			http.Error(w, "no --config.file to reload", http.StatusBadRequest)
			return
		}
		if err := h.Reload(); err != nil {
			http.Error(w, "reload failed, current config kept: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "config reloaded")
	})
}
