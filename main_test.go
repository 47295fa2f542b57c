package main

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/collector"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// Bad flags are clear errors at start-up, before anything listens.
func TestBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--kamailio.binrpc-uri=/var/run/kamailio_ctl"}, "--kamailio.binrpc-uri"},
		{[]string{"--kamailio.binrpc-uri=http://x:1"}, "unsupported scheme"},
		{[]string{"--kamailio.binrpc-uri=tcp://[::1"}, `invalid host "[::1"`},
		{[]string{"rpc", "--kamailio.binrpc-uri=tcp://[::1", "core.uptime"}, `invalid host "[::1"`},
		{[]string{"--kamailio.timeout=soon"}, `invalid duration "soon"`},
		{[]string{"--kamailio.timeout=0s"}, "must be positive"},
		{[]string{"--runtime.gomaxprocs=0"}, "--runtime.gomaxprocs must be at least 1, got 0"},
		{[]string{"--runtime.gomaxprocs=many"}, `parsing "many": invalid syntax`},
		{[]string{"--collector.dispatcher.mapping=abc"}, `want "ID:NAME"`},
		{[]string{"--kamailio.custom-metrics-url=ftp://x"}, "custom-metrics-url"},
		{[]string{"--no-such-flag"}, "unknown long flag"},
		{[]string{"--web.listen-address=127.0.0.1:0", "--config.file=/nonexistent/probe.yml"}, "--config.file: open /nonexistent/probe.yml"},
		{[]string{"--web.listen-address=127.0.0.1:0", "--log.level=loud"}, "unrecognized log level loud"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

func TestRPCCommand(t *testing.T) {
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		switch r.Method {
		case "echo":
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(
				binrpc.Named("z", binrpc.Int(-1)), binrpc.Named("a", binrpc.Array(r.Args...)))}}
		}
		return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + r.Method + " not found"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"rpc", "--kamailio.binrpc-uri=" + s.URI(), "echo", "7", "s:8", "1.5", "x"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `[{"z":-1,"a":[7,"8",1.5,"x"]}]`
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.Bytes()); err != nil || compact.String() != want {
		t.Fatalf("output %s (%v), want %s", out.String(), err, want)
	}
	// Negative numbers are arguments, not flags; text is printed as kamcmd
	// prints it, without JSON's HTML escapes.
	out.Reset()
	if code := run([]string{"rpc", "--kamailio.binrpc-uri=" + s.URI(), "echo", "-5", "-2.5", "<null string>"}, &out, &errb); code != 0 {
		t.Fatalf("negative arguments: exit %d: %s", code, errb.String())
	}
	compact.Reset()
	if err := json.Compact(&compact, out.Bytes()); err != nil || compact.String() != `[{"z":-1,"a":[-5,-2.5,"<null string>"]}]` ||
		!strings.Contains(out.String(), `"<null string>"`) {
		t.Fatalf("negative arguments: output %s (%v)", out.String(), err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"rpc", "--kamailio.binrpc-uri=" + s.URI(), "nope"}, &out, &errb); code != 1 || errb.String() != "500 command nope not found\n" {
		t.Fatalf("fault: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"rpc", "--kamailio.binrpc-uri=unix:///nonexistent/ctl", "core.uptime"}, &out, &errb); code != 1 {
		t.Fatalf("unreachable: exit %d", code)
	}
}

func TestParseArg(t *testing.T) {
	for in, want := range map[string]any{"5": int64(5), "-3": int64(-3), "2.5": 2.5, "abc": "abc", "s:5": "5", "i:0x10": int64(16), "d:3": 3.0, "99999999999": 99999999999.0} {
		got, err := parseArg(in)
		if err != nil || got != want {
			t.Errorf("parseArg(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{"i:x", "d:y", "i:99999999999"} {
		if _, err := parseArg(bad); err == nil {
			t.Errorf("parseArg(%q) accepted", bad)
		}
	}
}

func TestHelpAndVersionExitZero(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"--help"}, {"rpc", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || strings.Contains(errb.String(), exporterName+": error:") {
			t.Errorf("%v: exit %d, stderr %.200q", args, code, errb.String())
		}
	}
}

// Without GOGC the exporter runs the collector at defaultGOGC; a GOGC
// from the environment (which the runtime has applied) is left alone.
func TestDefaultGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if got := applyDefaultGOGC(func(string) string { return "" }); got != defaultGOGC || debug.SetGCPercent(defaultGOGC) != defaultGOGC {
		t.Fatalf("GOGC unset: %d in force, want %d", got, defaultGOGC)
	}
	debug.SetGCPercent(80) // as the runtime does for GOGC=80
	if got := applyDefaultGOGC(func(k string) string { return map[string]string{"GOGC": "80"}[k] }); got != 80 || debug.SetGCPercent(80) != 80 {
		t.Fatalf("GOGC=80: %d in force", got)
	}
}

// Every link of the landing page leads to a page that is served, the
// probe link to a target that may be probed: --kamailio.binrpc-uri, or
// with a --config.file that does not list it, a target of that file.
func TestLandingPageLinks(t *testing.T) {
	t.Run("own target", func(t *testing.T) { checkLandingPageLinks(t, "", "absent_ctl") })
	cfg := filepath.Join(t.TempDir(), "probe.yml")
	if err := os.WriteFile(cfg, []byte("targets:\n  - match: \"tcp://10.*\"\n  - match: \"tcp://127.0.0.1:1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("config file", func(t *testing.T) { checkLandingPageLinks(t, cfg, "tcp%3A%2F%2F127.0.0.1%3A1") })
}

func checkLandingPageLinks(t *testing.T, configFile, probeTarget string) {
	o := &options{metricsPath: "/metrics", timeout: time.Second, rtpMetricsPath: "/rtp_metrics", rtpMetricsURL: "http://127.0.0.1:1/metrics",
		configFile: configFile}
	addr := binrpc.Address{Network: "unix", Addr: filepath.Join(t.TempDir(), "absent_ctl")}
	h, err := newHandler(o, addr, collector.Settings{}, promslog.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	code, page := get("/")
	if code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	links := regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1)
	checked := 0
	for _, l := range links {
		u := html.UnescapeString(l[1])
		if strings.Contains(u, "://") || strings.HasPrefix(u, "#") {
			continue // external, or on the page itself
		}
		if !strings.HasPrefix(u, "/") {
			u = "/" + u
		}
		if code, _ := get(u); code == http.StatusNotFound || code == http.StatusForbidden {
			t.Errorf("the landing page links %s, which answers %d", u, code)
		}
		checked++
	}
	if !strings.Contains(page, "/probe?target=") || !strings.Contains(page, probeTarget) {
		t.Errorf("no probe link to %s on the landing page:\n%s", probeTarget, page)
	}
	if checked < 3 {
		t.Errorf("only %d local links found on the landing page:\n%s", checked, page)
	}
}

// readmeAfter returns README.md after the first occurrence of marker.
func readmeAfter(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	return rest
}

// The README's collector table lists every collector, in scrape order.
func TestREADMECollectorTable(t *testing.T) {
	table, _, _ := strings.Cut(readmeAfter(t, "\n| collector (`--[no-]collector.<name>`) |"), "\n\n")
	var listed []string
	for _, line := range strings.Split(table, "\n")[2:] {
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
		listed = append(listed, name)
	}
	if want := collector.Names(); !slices.Equal(listed, want) {
		t.Errorf("README's collector table lists\n%q\nwant\n%q", listed, want)
	}
}

// The README's flags table is one table (a blank line would end it and show
// the rows after it as text) and lists every flag.
func TestREADMEFlagsTable(t *testing.T) {
	section, _, _ := strings.Cut(readmeAfter(t, "\n## Flags\n"), "\n#")
	var tables int
	var firstColumn []string
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		row := strings.HasPrefix(line, "|")
		if row && !inTable {
			tables++
		}
		inTable = row
		if row {
			firstColumn = append(firstColumn, strings.SplitN(line, "|", 3)[1])
		}
	}
	if tables != 1 {
		t.Errorf("the Flags section has %d tables, want 1", tables)
	}
	listed := strings.Join(firstColumn, "\n")
	perCollector := map[string]bool{}
	for _, n := range collector.Names() {
		perCollector["collector."+n] = true
	}
	var o options
	app, _, _ := newApp(&o)
	for _, f := range app.Model().Flags {
		if f.Hidden || f.Name == "help" || perCollector[f.Name] {
			continue
		}
		if !strings.Contains(listed, "`--"+f.Name+"`") && !strings.Contains(listed, "`--[no-]"+f.Name+"`") {
			t.Errorf("--%s is not in the README's flags table", f.Name)
		}
	}
}

// discoveryOnlyCtl starts a fake ctl on network that exports no method but
// system.listMethods: every collector is skipped.
func discoveryOnlyCtl(network string) (*fakectl.Server, error) {
	return fakectl.Start(network, func(r fakectl.Request) fakectl.Response {
		if r.Method == "system.listMethods" {
			return fakectl.Response{Values: []binrpc.Value{binrpc.String("system.listMethods")}}
		}
		return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + r.Method + " not found"}}
	})
}

// The exporter runs on one CPU unless --runtime.gomaxprocs or GOMAXPROCS
// says otherwise, as the Go collector's go_sched_gomaxprocs_threads shows.
func TestGOMAXPROCS(t *testing.T) {
	for _, tt := range []struct {
		env  string // GOMAXPROCS, "" unset
		args []string
		want string
	}{
		{"", nil, "1"},
		{"", []string{"--runtime.gomaxprocs=2"}, "2"},
		{"3", nil, "3"},
	} {
		t.Run(tt.env+strings.Join(tt.args, ","), func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tt.env)
			if tt.env == "" {
				os.Unsetenv("GOMAXPROCS") // t.Setenv restores it
			}
			c := startChild(t, t.TempDir(), append(tt.args, "--kamailio.binrpc-uri=unix:///nonexistent/ctl")...)
			_, page := c.get("/metrics")
			if want := "\ngo_sched_gomaxprocs_threads " + tt.want + "\n"; !strings.Contains(page, want) {
				t.Errorf("/metrics has no %q", strings.TrimSpace(want))
			}
		})
	}
}
