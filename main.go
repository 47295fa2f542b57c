// Command kamailio_exporter exports Kamailio's statistics and state, read
// over BINRPC from the ctl module, as Prometheus metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/collector"
	"github.com/kamailio-exporter/kamailio_exporter/internal/upstream"
	"github.com/kamailio-exporter/kamailio_exporter/probe"
)

const exporterName = "kamailio_exporter"

// options are the command-line settings.
type options struct {
	uri              string
	timeout          time.Duration
	maxProcs         int
	customMetricsURL string
	customHTTPConfig string
	dispatcherMap    []string
	dialogProfiles   []string
	allStatistics    bool
	metricsPath      string
	rtpMetricsPath   string
	rtpMetricsURL    string
	configFile       string
	maxTargets       int
	selection        collector.Selection
	web              *web.FlagConfig
	log              *promslog.Config

	rpcMethod string
	rpcArgs   []string
	rpcRawOut string
}

func newApp(o *options) (*kingpin.Application, *kingpin.CmdClause, *kingpin.CmdClause) {
	app := kingpin.New(exporterName, "Prometheus exporter for the Kamailio SIP server, over BINRPC (ctl module).")
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	app.Flag("kamailio.binrpc-uri", `BINRPC URI on which to scrape kamailio. E.g. "tcp://127.0.0.1:2049" (ctl's default port)`).
		Default("unix:///var/run/kamailio/kamailio_ctl").StringVar(&o.uri)
	app.Flag("kamailio.timeout", "Timeout for trying to get stats from Kamailio using BINRPC.").
		Short('t').Default("5s").DurationVar(&o.timeout)
	app.Flag("kamailio.custom-metrics-url", "URL to request user defined metrics from kamailio").
		Default("").StringVar(&o.customMetricsURL)
	app.Flag("kamailio.custom-metrics-http-config-file", "HTTP client configuration of the --kamailio.custom-metrics-url fetch, as Prometheus's scrape configs write it: basic_auth (password_file), authorization (credentials_file), tls_config, proxy_url. Keeps credentials off the command line.").
		Default("").StringVar(&o.customHTTPConfig)
	app.Flag("collector.dispatcher.mapping", `Map a Dispatcher ID to a Name using the "ID:NAME" format. E.g. "100:Genesys"`).
		StringsVar(&o.dispatcherMap)
	app.Flag("collector.dialog.profiles", "Select dialog profiles to query.").StringsVar(&o.dialogProfiles)
	app.Flag("collector.stats.fetch.all", "Export every stats.fetch statistic as kamailio_stats_<group>_<name>[_total], besides the curated families.").
		Default("true").BoolVar(&o.allStatistics)
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&o.metricsPath)
	app.Flag("web.rtp-telemetry-path", "Path under which to expose rtpengine metrics.").Default("").StringVar(&o.rtpMetricsPath)
	app.Flag("rtpengine.metrics-url", "URL of rtpengine's own Prometheus metrics, served at --web.rtp-telemetry-path.").
		Default("http://127.0.0.1:9901/metrics").StringVar(&o.rtpMetricsURL)
	app.Flag("config.file", "YAML file listing the targets /probe may scrape, with their timeouts and collectors. Without it, /probe accepts only --kamailio.binrpc-uri. Reloaded on SIGHUP and POST /-/reload.").
		Default("").StringVar(&o.configFile)
	app.Flag("probe.max-targets", "Targets of /probe whose state (connection, failure counter, discovered methods) is kept between probes; past that, the target probed least recently is forgotten.").
		Default(fmt.Sprint(probe.DefaultMaxTargets)).IntVar(&o.maxTargets)
	app.Flag("runtime.gomaxprocs", "The target number of CPUs Go will run on (GOMAXPROCS): one keeps the exporter off Kamailio's other cores and answers a scrape sooner (it also served 2 200 /probe targets every 15 s); more only when probes come faster than one core converts them.").
		Envar("GOMAXPROCS").Default("1").IntVar(&o.maxProcs)
	o.selection = collector.AddFlags(app)
	o.web = kingpinflag.AddFlags(app, ":9494")
	o.log = &promslog.Config{}
	flag.AddFlags(app, o.log)

	// Everything after the rpc method is an argument, "-5" included, as
	// kamcmd takes it: flags go before the method.
	app.Interspersed(false)
	serve := app.Command("serve", "Serve metrics (the default).").Default()
	rpc := app.Command("rpc", "Call one RPC method and print the reply as JSON (like kamcmd).")
	rpc.Flag("raw-output", "Also write the reply packet, as received, to this file (to record test data).").Hidden().StringVar(&o.rpcRawOut)
	rpc.Arg("method", "RPC method, e.g. core.uptime").Required().StringVar(&o.rpcMethod)
	rpc.Arg("args", `Arguments: numbers (negative ones too) are sent as ints or doubles, anything else as a string; prefix with "s:", "i:" or "d:" to force a type. Flags go before the method.`).StringsVar(&o.rpcArgs)
	return app, serve, rpc
}

func main() {
	applyDefaultGOGC(os.Getenv)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultGOGC is the garbage collector's target when GOGC is not set. The
// exporter's live heap is small, so a tighter target costs little CPU and
// keeps it off the Kamailio host's memory (BENCHMARKS.md, resident memory,
// has the figures). Prometheus itself lowers it too (to 75).
const defaultGOGC = 50

// applyDefaultGOGC sets defaultGOGC unless the GOGC environment variable
// says otherwise, and returns the percentage in force.
func applyDefaultGOGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		pct := debug.SetGCPercent(100)
		debug.SetGCPercent(pct)
		return pct
	}
	debug.SetGCPercent(defaultGOGC)
	return defaultGOGC
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	app, _, rpc := newApp(&o)
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	// --help and --version print and then ask to terminate: finish here
	// instead of running the command.
	terminated := false
	app.Terminate(func(int) { terminated = true })
	cmd, err := app.Parse(args)
	if terminated {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 2
	}
	addr, err := binrpc.ParseURI(o.uri)
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: --kamailio.binrpc-uri: %v\n", exporterName, err)
		return 2
	}
	if o.timeout <= 0 {
		fmt.Fprintf(stderr, "%s: error: --kamailio.timeout must be positive, got %v\n", exporterName, o.timeout)
		return 2
	}
	if o.maxTargets < 1 {
		fmt.Fprintf(stderr, "%s: error: --probe.max-targets must be at least 1, got %d\n", exporterName, o.maxTargets)
		return 2
	}
	if o.maxProcs < 1 {
		fmt.Fprintf(stderr, "%s: error: --runtime.gomaxprocs must be at least 1, got %d\n", exporterName, o.maxProcs)
		return 2
	}
	if cmd == rpc.FullCommand() {
		return runRPC(addr, o.timeout, o.rpcMethod, o.rpcArgs, o.rpcRawOut, stdout, stderr)
	}
	logger := promslog.New(o.log)
	settings, err := o.settings(logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 2
	}
	if o.configFile != "" {
		if _, err := probe.Load(o.configFile); err != nil {
			fmt.Fprintf(stderr, "%s: error: --config.file: %v\n", exporterName, err)
			return 2
		}
	}
	if err := serve(&o, addr, settings, logger); err != nil {
		logger.Error("exporter stopped", "err", err)
		return 1
	}
	return 0
}

// settings validates the collector flags.
func (o *options) settings(logger *slog.Logger) (collector.Settings, error) {
	s := collector.Settings{DispatcherSetNames: map[int]string{}, AllStatistics: o.allStatistics}
	for _, m := range o.dispatcherMap {
		if m == "" {
			continue
		}
		id, name, ok := strings.Cut(m, ":")
		n, err := strconv.Atoi(strings.TrimSpace(id))
		if !ok || err != nil {
			return s, fmt.Errorf(`--collector.dispatcher.mapping %q: want "ID:NAME" with a numeric ID`, m)
		}
		if old, dup := s.DispatcherSetNames[n]; dup && old != name {
			logger.Warn("dispatcher set mapped twice; the last mapping wins", "set_id", n, "names", old+", "+name)
		}
		s.DispatcherSetNames[n] = name
	}
	for _, p := range o.dialogProfiles {
		if p = strings.TrimSpace(p); p != "" {
			s.DialogProfiles = append(s.DialogProfiles, p)
		}
	}
	if o.customMetricsURL != "" {
		if err := upstream.Check(o.customMetricsURL); err != nil {
			return s, fmt.Errorf("--kamailio.custom-metrics-url: %w", err)
		}
	}
	if o.customHTTPConfig != "" {
		if o.customMetricsURL == "" {
			return s, fmt.Errorf("--kamailio.custom-metrics-http-config-file needs --kamailio.custom-metrics-url")
		}
		cfg, _, err := config.LoadHTTPConfigFile(o.customHTTPConfig)
		if err != nil {
			return s, fmt.Errorf("--kamailio.custom-metrics-http-config-file: %w", err)
		}
		if s.CustomMetricsClient, err = config.NewClientFromConfig(*cfg, exporterName); err != nil {
			return s, fmt.Errorf("--kamailio.custom-metrics-http-config-file: %w", err)
		}
	}
	if o.rtpMetricsPath != "" {
		if err := upstream.Check(o.rtpMetricsURL); err != nil {
			return s, fmt.Errorf("--rtpengine.metrics-url: %w", err)
		}
	}
	return s, nil
}

// serve runs the exporter until SIGTERM or SIGINT, or until a listener
// fails. SIGHUP reloads what can be reloaded and never stops it.
func serve(o *options, addr binrpc.Address, settings collector.Settings, logger *slog.Logger) error {
	logger.Info("Starting "+exporterName, "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())
	runtime.GOMAXPROCS(o.maxProcs)
	logger.Info("Go MAXPROCS", "procs", o.maxProcs)
	h, err := newHandler(o, addr, settings, logger)
	if err != nil {
		return err
	}
	defer h.close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	srv := newServer(h, logger)
	done := make(chan error, 1)
	go func() { done <- web.ListenAndServe(srv, o.web, logger) }()
	for {
		select {
		case err := <-done:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				h.reload()
				continue
			}
			// Let the scrapes in flight finish (they are bounded by the
			// timeout), then close the connections kept to Kamailio.
			logger.Info("Stopping "+exporterName, "signal", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout+time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
			cancel()
			<-done
			return nil
		}
	}
}

// handlers is what serve runs: the HTTP handler, what SIGHUP does, and
// what is closed at the end.
type handlers struct {
	http.Handler
	reload func()
	close  func()
}

func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h,
		// net/http's own complaints (a TLS handshake error, say) as
		// log lines of the exporter's format.
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// newHandler builds the HTTP handler (metrics, /probe, /-/reload with a
// config file, optional rtpengine path, landing page), the SIGHUP reload
// and the closing of the connections kept to Kamailio.
func newHandler(o *options, addr binrpc.Address, settings collector.Settings, logger *slog.Logger) (*handlers, error) {
	// reg holds everything but Kamailio's series, which the exporter's
	// handler streams from its scrape (collector.Exporter.Handler).
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Kamailio's own xhttp_prom page belongs to this Kamailio only, not to
	// the targets of /probe.
	own := settings
	own.CustomMetricsURL = o.customMetricsURL
	exporter := collector.NewExporter(addr, o.timeout, own, o.selection, logger)
	handler := promhttp.InstrumentMetricHandler(reg, exporter.Handler(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       o.timeout + 5*time.Second,
	}, logger))

	mux := http.NewServeMux()
	mux.Handle(o.metricsPath, handler)
	prober, err := probe.NewHandler(o.configFile, addr, o.timeout, o.maxTargets, settings, o.selection, logger)
	if err != nil {
		return nil, fmt.Errorf("--config.file: %w", err)
	}
	mux.Handle("/probe", prober)
	reload := func() {
		logger.Info("SIGHUP: nothing to reload without --config.file (--web.config.file, if any, is read again on every connection)")
	}
	if o.configFile != "" {
		reg.MustRegister(prober.ReloadMetrics()...)
		mux.Handle("/-/reload", prober.ReloadHandler())
		reload = func() {
			logger.Info("SIGHUP: reloading --config.file (--web.config.file, if any, is read again on every connection)", "file", o.configFile)
			prober.Reload()
		}
	}
	links := []web.LandingLinks{{Address: o.metricsPath, Text: "Metrics"}}
	if target := prober.ExampleTarget(); target != "" {
		links = append(links, web.LandingLinks{Address: "/probe?target=" + url.QueryEscape(target), Text: "Probe",
			Description: "/probe?target=URI scrapes the Kamailio at that BINRPC URI"})
	}
	if o.rtpMetricsPath != "" {
		logger.Info("Enabling rtp metrics", "path", o.rtpMetricsPath, "upstream", upstream.Redact(o.rtpMetricsURL))
		mux.Handle(o.rtpMetricsPath, newRTPProxy(o.rtpMetricsURL, o.timeout, logger))
		links = append(links, web.LandingLinks{Address: o.rtpMetricsPath, Text: "rtpengine metrics"})
	}
	if o.metricsPath != "/" && o.metricsPath != "" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Kamailio Exporter",
			Description: "Prometheus Exporter for Kamailio servers",
			Version:     version.Info(),
			Links:       links,
			// No /debug/pprof handler is served: do not link one.
			Profiling: "false",
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/", landing)
	}
	return &handlers{Handler: mux, reload: reload, close: func() {
		exporter.Close()
		prober.Close()
	}}, nil
}
