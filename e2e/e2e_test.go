//go:build e2e

// Package e2e runs the exporter binary against a real Kamailio started by
// scripts/kamailio.sh (see scripts/test.sh, which sets KAMAILIO_RUNDIR and
// sends SIP traffic with sipp first).
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kamailio-exporter/kamailio_exporter/collector"
)

var update = flag.Bool("update", false, "rewrite testdata/RELEASE/families.golden")

// kamAddr is the loopback address every listener of the test Kamailio is
// on: $KAMAILIO_ADDR, as scripts/kamailio.sh uses it.
var kamAddr = func() string {
	if a := os.Getenv("KAMAILIO_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1"
}()

type env struct {
	rundir  string
	bin     string
	release string // Kamailio's version, as core.version reports it
}

func setup(t *testing.T) env {
	t.Helper()
	rundir := os.Getenv("KAMAILIO_RUNDIR")
	if rundir == "" {
		t.Fatal("KAMAILIO_RUNDIR is not set: run scripts/test.sh, which starts Kamailio, or start it as README.md's Development section shows")
	}
	bin := filepath.Join(t.TempDir(), "kamailio_exporter")
	build := exec.Command("go", "build", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	e := env{rundir: rundir, bin: bin}
	if f := strings.Fields(kamcmd(t, e, "core.version")); len(f) > 1 {
		e.release = f[1]
	} else {
		t.Fatalf("core.version: %q", f)
	}
	return e
}

func (e env) unixURI() string { return "unix://" + e.rundir + "/kamailio_ctl" }

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startExporter runs the exporter binary until the test ends and returns
// its base URL.
func startExporter(t *testing.T, e env, args ...string) string {
	t.Helper()
	base, _ := startExporterLog(t, e, args...)
	return base
}

// startExporterLog is startExporter, also returning the file that holds
// the exporter's log.
func startExporterLog(t *testing.T, e env, args ...string) (string, string) {
	t.Helper()
	base, log, _ := startExporterCmd(t, e, args...)
	return base, log
}

// startExporterCmd is startExporterLog, also returning the process.
func startExporterCmd(t *testing.T, e env, args ...string) (string, string, *exec.Cmd) {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	logf, err := os.Create(filepath.Join(t.TempDir(), "exporter.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("exporter log:\n%s", b)
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			return base, logf.Name(), cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("exporter did not start listening within 10s")
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	body, status := get(t, url)
	if status != 200 {
		t.Fatalf("GET %s: %d\n%s", url, status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// find returns the value of the series of family name whose labels include want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.Metric {
		l := labels(m)
		match := true
		for k, v := range want {
			match = match && l[k] == v
		}
		if match {
			return value(m), true
		}
	}
	return 0, false
}

func kamcmd(t *testing.T, e env, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kamcmd", append([]string{"-s", "unix:" + e.rundir + "/kamailio_ctl"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kamcmd %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// The families, types and label names of a scrape of the test Kamailio
// match testdata/families.golden; every collector succeeds; request
// counters equal kamcmd's.
func TestScrapeRealKamailio(t *testing.T) {
	e := setup(t)
	base, logFile := startExporterLog(t, e, "--kamailio.binrpc-uri="+e.unixURI(),
		"--collector.dispatcher.mapping=1:Carrier 1", "--collector.dialog.profiles=inbound",
		"--collector.dialog.profiles=caller", "--collector.dialog.profiles=no_such_profile",
		"--kamailio.custom-metrics-url=http://"+kamAddr+":8080/metrics", "--web.rtp-telemetry-path=/rtp_metrics",
		"--rtpengine.metrics-url=http://"+kamAddr+":9901/metrics", "--collector.mod.mem_stats")
	fams := scrape(t, base+"/metrics")

	// After the first scrape of a Kamailio run, a scrape makes Kamailio log
	// nothing (uac's registration to the dead trunk logs on its own timer).
	kamLog := kamailioLogSince(t, e)
	for range 3 {
		scrape(t, base+"/metrics")
	}
	var kamLines []string
	for _, l := range strings.Split(kamLog(), "\n") {
		if l != "" && !strings.Contains(l, "uac_reg_tm_callback") {
			kamLines = append(kamLines, l)
		}
	}
	if len(kamLines) > 0 {
		t.Errorf("Kamailio logged %d lines during 3 scrapes, the first: %s", len(kamLines), kamLines[0])
	}

	if v, _ := find(fams, "kamailio_up", nil); v != 1 {
		t.Fatalf("kamailio_up = %v", v)
	}
	for _, m := range fams["kamailio_scrape_collector_success"].GetMetric() {
		if value(m) != 1 {
			t.Errorf("collector %s failed", labels(m)["collector"])
		}
	}

	// Golden: family name, type and label names.
	var lines []string
	for name, f := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		var lnames []string
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if !slices.Contains(lnames, l.GetName()) {
					lnames = append(lnames, l.GetName())
				}
			}
		}
		sort.Strings(lnames)
		lines = append(lines, fmt.Sprintf("%s %s {%s}", name, strings.ToLower(f.GetType().String()), strings.Join(lnames, ",")))
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", e.release, "families.golden")
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("families differ from %s (run with -update to accept):\n%s", golden, diff(string(want), got))
	}

	// Request counters equal Kamailio's own (the traffic has stopped).
	for _, meth := range []string{"invite", "register", "bye", "ack"} {
		out := kamcmd(t, e, "stats.get_statistics", "rcv_requests_"+meth)
		m := regexp.MustCompile(`rcv_requests_` + meth + ` = (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("kamcmd output: %q", out)
		}
		want, _ := strconv.ParseFloat(m[1], 64)
		got, ok := find(fams, "kamailio_core_rcv_request_total", map[string]string{"method": meth})
		if !ok || got != want {
			t.Errorf("kamailio_core_rcv_request_total{method=%q} = %v, kamcmd says %v", meth, got, want)
		}
		if meth == "invite" && want == 0 {
			t.Errorf("no INVITE reached Kamailio: did the sipp traffic run?")
		}
	}

	// Dispatcher: the sipp UAS destination is up, the probed dead one down,
	// weights come from ATTRS.
	if v, ok := find(fams, "kamailio_dispatcher_list_target", map[string]string{"set_id": "2"}); !ok || v != 0 {
		t.Errorf("dead dispatcher destination in set 2: %v %v, want 0", v, ok)
	}
	if v, ok := find(fams, "kamailio_dispatcher_list_target", map[string]string{"set_id": "1", "set_name": "Carrier 1"}); !ok || v != 1 {
		t.Errorf("dispatcher destination in set 1: %v %v, want 1", v, ok)
	}
	if v, ok := find(fams, "kamailio_dispatcher_list_target_weight", map[string]string{"set_id": "1"}); !ok || v == 0 {
		t.Errorf("dispatcher weight in set 1 = %v %v, want the ATTRS weight", v, ok)
	}
	if _, ok := find(fams, "kamailio_dlg_profile_get_size_dialog", map[string]string{"profile": "no_such_profile"}); ok {
		t.Errorf("unknown dialog profile exported")
	}
	for profile, want := range map[string]float64{"inbound": 1, "no_such_profile": 0} {
		if v, ok := find(fams, "kamailio_dlg_profile_found", map[string]string{"profile": profile}); !ok || v != want {
			t.Errorf("kamailio_dlg_profile_found{profile=%q} = %v %v, want %v", profile, v, ok, want)
		}
	}
	if f := fams["kamailio_tls_max_connections"]; f == nil || len(f.Metric) != 1 {
		t.Errorf("kamailio_tls_max_connections: want exactly one series, got %v", f)
	}

	// The real rtpengine daemon is up.
	if v, ok := find(fams, "kamailio_rtpengine_enabled", map[string]string{"url": "udp:" + kamAddr + ":2223"}); !ok || v != 1 {
		t.Errorf("kamailio_rtpengine_enabled = %v %v, want 1", v, ok)
	}
	// Kamailio's own xhttp_prom page is merged.
	if v, ok := find(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "custom_metrics"}); !ok || v != 1 {
		t.Errorf("custom_metrics success = %v %v", v, ok)
	}
	if v, ok := find(fams, "kamailio_calls_routed", map[string]string{"method": "INVITE"}); !ok || v == 0 {
		t.Errorf("xhttp_prom counter kamailio_calls_routed{method=INVITE} = %v %v", v, ok)
	}
	// rtpengine's own page at the rtp path.
	body, status := get(t, base+"/rtp_metrics")
	if status != 200 || !strings.Contains(body, "rtpengine_sessions") {
		t.Errorf("/rtp_metrics: %d %.200s", status, body)
	}
	// promtool accepts the page, apart from the reference's legacy names.
	page, _ := get(t, base+"/metrics")
	checkPromtool(t, page)

	// The same families on every release: reply codes and methods that
	// newer releases add are labels of the reference families.
	for name := range fams {
		if strings.HasPrefix(name, "kamailio_stats_core_rcv_replies_") && name != "kamailio_stats_core_rcv_replies_by_method_total" ||
			strings.HasPrefix(name, "kamailio_stats_core_rcv_requests_") || strings.HasPrefix(name, "kamailio_stats_tls_") {
			t.Errorf("%s: a family of its own on %s", name, e.release)
		}
	}
	// A healthy Kamailio is scraped without a warning.
	for _, l := range strings.Split(readFile(t, logFile), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") && !strings.Contains(l, "no_such_profile") {
			t.Errorf("logged: %s", l)
		}
	}
}

// scrapeUntil scrapes until ok accepts the page, for at most limit, and
// returns the last page.
func scrapeUntil(t *testing.T, url string, limit time.Duration, what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(500 * time.Millisecond) {
		fams := scrape(t, url)
		if ok(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
			return fams
		}
	}
}

// The test config's trunks, keepalive destinations and DMQ peer: the
// registration to the test Kamailio itself is registered and the one to a
// port where nothing answers is not; the live destination is up and the
// dead one down; the DMQ peer is active, shows as not active once it is
// stopped (with its failed notifications counted on 6.1), and active again
// once it is back. The per-registration view agrees with the uac module's
// statistics, and no credential of the uacreg table reaches the page or
// the log.
func TestTrunksKeepaliveAndCluster(t *testing.T) {
	e := setup(t)
	base, logFile := startExporterLog(t, e, "--kamailio.binrpc-uri="+e.unixURI(), "--collector.mod.mem_stats", "--log.level=debug")
	url := base + "/metrics"
	trunk := func(fams map[string]*dto.MetricFamily, uuid string) float64 {
		v, ok := find(fams, "kamailio_uac_registration_registered", map[string]string{"l_uuid": uuid})
		if !ok {
			return -1
		}
		return v
	}
	// uac registers every 2 s (reg_timer_interval) and retries after 5 s.
	fams := scrapeUntil(t, url, 30*time.Second, "trunk_ok registered", func(f map[string]*dto.MetricFamily) bool {
		return trunk(f, "trunk_ok") == 1
	})
	if v := trunk(fams, "trunk_dead"); v != 0 {
		t.Errorf("trunk_dead registered = %v, want 0", v)
	}
	if v, _ := find(fams, "kamailio_uac_registration_flag", map[string]string{"l_uuid": "trunk_dead", "flag": "initialized"}); v != 1 {
		t.Errorf("trunk_dead was never attempted")
	}
	if v, ok := find(fams, "kamailio_uac_registration_timer_seconds", map[string]string{"l_uuid": "trunk_ok"}); !ok || v < 3000 || v > 3600 {
		t.Errorf("trunk_ok expires in %v %v s, want about 3600", v, ok)
	}
	// The module's statistics: regtotal and regdisabled agree with the
	// registrations. (regactive does not: Kamailio takes 1 from it at every
	// attempt of a registration that is not online, so it falls below zero.)
	regs, disabled := 0.0, 0.0
	for _, m := range fams["kamailio_uac_registration_flag"].GetMetric() {
		if labels(m)["flag"] == "disabled" {
			regs++
			disabled += value(m)
		}
	}
	for stat, want := range map[string]float64{"uac.regtotal": regs, "uac.regdisabled": disabled} {
		fam, l, ok := collector.StatisticSeries(stat)
		if !ok {
			t.Fatalf("%s: no family", stat)
		}
		if v, ok := find(fams, fam, l); !ok || v != want {
			t.Errorf("%s = %v %v, the registrations say %v", stat, v, ok, want)
		}
	}
	if regs != 2 {
		t.Errorf("%v registrations, want 2", regs)
	}

	// keepalive pings every 2 s.
	fams = scrapeUntil(t, url, 20*time.Second, "keepalive states", func(f map[string]*dto.MetricFamily) bool {
		up, _ := find(f, "kamailio_keepalive_destination_state", map[string]string{"uri": "sip:" + kamAddr + ":5060", "state": "up"})
		down, _ := find(f, "kamailio_keepalive_destination_state", map[string]string{"uri": "sip:" + kamAddr + ":5098", "state": "down"})
		return up == 1 && down == 1
	})
	if v, ok := find(fams, "kamailio_keepalive_destination_last_up_age_seconds", map[string]string{"uri": "sip:" + kamAddr + ":5060"}); !ok || v < 0 || v > 30 {
		t.Errorf("live destination answered %v %v s ago", v, ok)
	}
	if _, ok := find(fams, "kamailio_keepalive_destination_last_up_age_seconds", map[string]string{"uri": "sip:" + kamAddr + ":5098"}); ok {
		t.Errorf("the dead destination has a last 2xx")
	}

	// Per-module memory (--collector.mod.mem_stats): the modules of the
	// config have shared memory.
	for _, m := range []string{"core", "uac", "dmq", "keepalive", "tm"} {
		if v, ok := find(fams, "kamailio_module_memory_bytes", map[string]string{"module": m, "type": "shm"}); !ok || v <= 0 {
			t.Errorf("module %s shm = %v %v", m, v, ok)
		}
	}

	// DMQ: the peer is active, then stopped, then back.
	peerStatus := func(f map[string]*dto.MetricFamily, status string) float64 {
		v, ok := find(f, "kamailio_dmq_node_status", map[string]string{"local": "false", "status": status})
		if !ok {
			return -1
		}
		return v
	}
	scrapeUntil(t, url, 30*time.Second, "DMQ peer active", func(f map[string]*dto.MetricFamily) bool { return peerStatus(f, "active") == 1 })
	if v, _ := find(fams, "kamailio_dmq_node_status", map[string]string{"local": "true", "status": "active"}); v != 1 {
		t.Errorf("local DMQ node not active")
	}
	kamailioScript(t, e, "peer-stop")
	peerBack := false
	defer func() {
		if !peerBack {
			kamailioScript(t, e, "peer-start")
		}
	}()
	// dmq pings every 5 s; a ping times out after fr_timer (2 s).
	fams = scrapeUntil(t, url, 40*time.Second, "DMQ peer not active after it stopped", func(f map[string]*dto.MetricFamily) bool {
		return peerStatus(f, "active") == 0
	})
	if strings.HasPrefix(e.release, "6.1") {
		fams = scrapeUntil(t, url, 20*time.Second, "fail_count counted", func(f map[string]*dto.MetricFamily) bool {
			v, _ := find(f, "kamailio_dmq_node_consecutive_failures", map[string]string{"local": "false"})
			return v > 0
		})
		if v := peerStatus(fams, "not_active"); v != 1 {
			t.Errorf("6.1: peer not_active = %v", v)
		}
	} else if v := peerStatus(fams, "pending"); v != 1 {
		t.Errorf("%s: the notification peer gone should be pending, got %v", e.release, v)
	}
	if *update {
		saveMixinFixture(t, e.release, fams)
	}
	kamailioScript(t, e, "peer-start")
	peerBack = true
	fams = scrapeUntil(t, url, 40*time.Second, "DMQ peer active again", func(f map[string]*dto.MetricFamily) bool { return peerStatus(f, "active") == 1 })
	if strings.HasPrefix(e.release, "6.1") {
		if v, _ := find(fams, "kamailio_dmq_node_consecutive_failures", map[string]string{"local": "false"}); v != 0 {
			t.Errorf("fail_count %v after the peer answered again, want 0", v)
		}
	}

	// No credential of the uacreg table on the page or in the log.
	table, err := os.ReadFile(filepath.Join(e.rundir, "dbtext", "uacreg"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, row := range strings.Split(string(table), "\n")[1:] {
		cols := strings.Split(strings.ReplaceAll(row, `\:`, "\x00"), ":")
		if len(cols) > 9 {
			for _, c := range cols[8:10] { // auth_password, auth_ha1
				if c != "" {
					secrets = append(secrets, c)
				}
			}
		}
	}
	if len(secrets) < 2 {
		t.Fatalf("uacreg holds %d credentials, want a password and an HA1", len(secrets))
	}
	page, _ := get(t, url)
	log := readFile(t, logFile)
	for _, secret := range secrets {
		if strings.Contains(page, secret) || strings.Contains(log, secret) {
			t.Errorf("the credential %q is on the page or in the log", secret)
		}
	}
	checkPromtool(t, page)
}

// saveMixinFixture writes the series the mixin's alerts on trunks, DMQ,
// keepalive and module memory use, as scraped with a trunk down, a
// keepalive destination down and the DMQ peer gone, to
// ../mixin/testdata/RELEASE.prom: mixin/tests.yml takes its input series
// from there, and mixin/check.sh checks that they are still there.
func saveMixinFixture(t *testing.T, release string, fams map[string]*dto.MetricFamily) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# Scraped by e2e TestTrunksKeepaliveAndCluster from Kamailio %s (go test -tags e2e ./e2e -update).\n", release)
	for _, name := range []string{"kamailio_uac_registration_registered", "kamailio_dmq_node_status",
		"kamailio_dmq_node_consecutive_failures", "kamailio_keepalive_destination_state", "kamailio_module_memory_bytes"} {
		if f := fams[name]; f != nil {
			if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join("..", "mixin", "testdata", release+".prom")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// statistics parses "kamcmd stats.get_statistics all": "group.name" → value.
func statistics(t *testing.T, e env) map[string]float64 {
	t.Helper()
	return statisticLines(t, kamcmd(t, e, "stats.get_statistics", "all"))
}

// groupStatistics lists Kamailio's statistics as kamcmd shows them group by
// group (each group's reply fits where all of them together may not).
func groupStatistics(t *testing.T, e env) map[string]float64 {
	t.Helper()
	var all strings.Builder
	for _, g := range strings.Fields(kamcmd(t, e, "cnt.grps_list")) {
		all.WriteString(kamcmd(t, e, "stats.get_statistics", g+":"))
		all.WriteString("\n")
	}
	return statisticLines(t, all.String())
}

// statisticLines reads kamcmd's "group:name = value" lines.
func statisticLines(t *testing.T, lines string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, l := range strings.Split(lines, "\n") {
		group, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		name, value, ok2 := strings.Cut(rest, " = ")
		if !ok || !ok2 {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("kamcmd: %q", l)
		}
		out[group+"."+name] = v
	}
	return out
}

// With ctl's default limits and the test config's 300 scripted statistics
// no statistic is lost: every one that kamcmd lists is exported with its
// value, although "stats.fetch all" is too large for ctl.
func TestEveryStatisticExported(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "kamcmd", "-s", "unix:"+e.rundir+"/kamailio_ctl", "stats.fetch", "all").CombinedOutput()
	if !strings.Contains(string(out), "500") {
		t.Fatalf("the test's premise: stats.fetch all should be too large for ctl's default limits; it answered %.200s", out)
	}
	base := startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI()) // --collector.stats.fetch.all is the default
	before := statistics(t, e)
	fams := scrape(t, base+"/metrics")
	after := statistics(t, e)
	if len(before) < 300 {
		t.Fatalf("kamcmd lists %d statistics; the test config has 300 scripted ones", len(before))
	}
	if v, _ := find(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); v != 1 {
		t.Fatalf("stats.fetch failed")
	}
	everyStatisticExported(t, fams, before, after)
	t.Logf("%s: %d statistics, all exported", e.release, len(before))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kamailioLogSince returns a function that reads what the test Kamailio
// has logged since this call (its log may be large: only the new part is
// read).
func kamailioLogSince(t *testing.T, e env) func() string {
	t.Helper()
	path := e.rundir + "/kamailio.log"
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return func() string {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.NewSectionReader(f, st.Size(), 1<<40))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

// everyStatisticExported checks that each statistic of before is exported
// with a value between before's and after's.
func everyStatisticExported(t *testing.T, fams map[string]*dto.MetricFamily, before, after map[string]float64) {
	t.Helper()
	for stat, v0 := range before {
		v1, ok := after[stat]
		if !ok {
			v1 = v0
		}
		fam, labels, ok := collector.StatisticSeries(stat)
		if !ok {
			t.Errorf("%s: not exported", stat)
			continue
		}
		got, ok := find(fams, fam, labels)
		if !ok || got < min(v0, v1) || got > max(v0, v1) {
			t.Errorf("%s: %s%v = %v %v; kamcmd says %v, then %v", stat, fam, labels, got, ok, v0, v1)
		}
	}
}

// restartKamailioWith restarts the test Kamailio with the environment
// variable name set for scripts/kamailio.sh, and with the usual settings
// again when the test ends.
func restartKamailioWith(t *testing.T, e env, name, value string) {
	t.Helper()
	t.Cleanup(func() { // the other tests' Kamailio
		kamailioScript(t, e, "stop")
		kamailioScript(t, e, "start")
	})
	kamailioScript(t, e, "stop")
	t.Setenv(name, value)
	kamailioScript(t, e, "start")
}

// With ctl's reply limit lowered to 12 KB, "stats.get_statistics all" loses
// lines without a fault (kamcmd shows fewer statistics than group by
// group): the exporter still exports every statistic, warns once, and
// after its first scrape of the run costs Kamailio no error line.
func TestStatisticsPastCtlReplyLimit(t *testing.T) {
	e := setup(t)
	restartKamailioWith(t, e, "KAMAILIO_CTL_BODY_KB", "12")
	all, groups := statistics(t, e), groupStatistics(t, e)
	if len(all) >= len(groups) || len(groups) < 300 {
		t.Fatalf("the test's premise: at 12 KB, stats.get_statistics all should list fewer statistics than group by group; it lists %d of %d", len(all), len(groups))
	}
	base, logFile := startExporterLog(t, e, "--kamailio.binrpc-uri="+e.unixURI())
	scrape(t, base+"/metrics") // the run's first scrape counts the statistics
	kamLog := kamailioLogSince(t, e)
	before := groupStatistics(t, e)
	fams := scrape(t, base+"/metrics")
	after := groupStatistics(t, e)
	if v, _ := find(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); v != 1 {
		t.Fatalf("stats.fetch failed")
	}
	everyStatisticExported(t, fams, before, after)
	if n := strings.Count(kamLog(), "ERROR"); n != 0 {
		t.Errorf("Kamailio logged %d ERROR lines during a scrape", n)
	}
	if n := strings.Count(readFile(t, logFile), "stats.get_statistics all is incomplete"); n != 1 {
		t.Errorf("the exporter warned %d times of the incomplete reply, want once", n)
	}
	t.Logf("%s: %d statistics (get_statistics all: %d), all exported", e.release, len(before), len(all))
}

// A script group of 1 300 statistics is too large for stats.fetch's struct
// and for one stats.get_statistics reply, which ctl cuts without a fault:
// the exporter does not pass the cut group off as complete. It reports the
// group as not read (kamailio_stats_group_success 0), with one warning
// naming ctl's parameter, exports none of its statistics, and keeps the
// other groups.
func TestStatisticsGroupPastCtlReplyLimit(t *testing.T) {
	e := setup(t)
	restartKamailioWith(t, e, "KAMAILIO_EXTRA_STATISTICS", "1000")
	lines := strings.Count(kamcmd(t, e, "stats.get_statistics", "script:"), "\n")
	names := strings.Count(kamcmd(t, e, "cnt.var_list", "script"), "\n")
	if lines >= names || names < 1300 {
		t.Fatalf("the test's premise: stats.get_statistics script: should be cut short; it has %d lines for %d names", lines, names)
	}
	base, logFile := startExporterLog(t, e, "--kamailio.binrpc-uri="+e.unixURI())
	var fams map[string]*dto.MetricFamily
	for range 2 {
		fams = scrape(t, base+"/metrics")
	}
	if v, _ := find(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); v != 1 {
		t.Fatalf("stats.fetch failed")
	}
	for g, want := range map[string]float64{"script": 0, "core": 1, "tmx": 1, "shmem": 1} {
		if v, ok := find(fams, "kamailio_stats_group_success", map[string]string{"group": g}); !ok || v != want {
			t.Errorf("group %s: success %v %v, want %v", g, v, ok, want)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "kamailio_extra_statistic_") || strings.HasPrefix(name, "kamailio_scripted_statistic_") {
			t.Fatalf("%s exported from a group read in part", name)
		}
	}
	if v, ok := find(fams, "kamailio_core_request_total", map[string]string{"method": "rcv"}); !ok || v < 0 {
		t.Errorf("the core group lost")
	}
	if log := readFile(t, logFile); strings.Count(log, "statistics group not exported") != 1 || !strings.Contains(log, "binrpc_max_body_size") {
		t.Errorf("want one warning naming binrpc_max_body_size:\n%s", log)
	}
	t.Logf("%s: script group %d names, stats.get_statistics script: %d lines: reported as not read", e.release, names, lines)
}

// A shared memory pool past 4 GiB (-m 5000): Kamailio 5.6's core.shmmem
// cuts its sizes to 32 bits. With stats.fetch off, core.shmmem alone
// reports the pool, whole, on every release: the total that Kamailio's
// shmem statistics give, and a free size within 1 % of theirs.
func TestSharedMemoryPast4GiB(t *testing.T) {
	e := setup(t)
	restartKamailioWith(t, e, "KAMAILIO_SHM_MB", "5000")
	stats := statisticLines(t, kamcmd(t, e, "stats.get_statistics", "shmem:"))
	if stats["shmem.total_size"] != 5000<<20 {
		t.Fatalf("the test's premise: a 5 000 MB pool; shmem.total_size is %v", stats["shmem.total_size"])
	}
	base := startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI(), "--no-collector.stats.fetch")
	for range 2 { // the first scrape of the run, and one after
		fams := scrape(t, base+"/metrics")
		if v, ok := find(fams, "kamailio_shm_bytes", map[string]string{"type": "total"}); v != 5000<<20 {
			t.Errorf("%s: kamailio_shm_bytes{type=total} = %v %v, want %d", e.release, v, ok, 5000<<20)
		}
		free := stats["shmem.free_size"]
		if v, ok := find(fams, "kamailio_shm_bytes", map[string]string{"type": "free"}); v < 0.99*free || v > 1.01*free {
			t.Errorf("%s: kamailio_shm_bytes{type=free} = %v %v, want about %v", e.release, v, ok, free)
		}
	}
}

func get(t *testing.T, url string) (string, int) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// legacyLintNames are the reference exporter's names that promtool's
// linter flags; they are kept for compatibility (see the README).
var legacyLintNames = []string{
	"kamailio_bad_msg_hdr",        // counter without _total
	"kamailio_dialog",             // counter without _total
	"kamailio_htable_slots_total", // gauge with _total
	"kamailio_htable_items_total", // gauge with _total
	"kamailio_failure_total",
}

func checkPromtool(t *testing.T, page string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		legacy := false
		for _, n := range legacyLintNames {
			legacy = legacy || strings.HasPrefix(line, n+" ")
		}
		if !legacy && line != "" {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
}

// Last: rtpengine stops; once Kamailio has noticed (rtpengine.ping), the
// node is reported down and the rtp path answers 502.
func TestRtpengineDown(t *testing.T) {
	e := setup(t)
	base := startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI(), "--web.rtp-telemetry-path=/rtp_metrics",
		"--rtpengine.metrics-url=http://"+kamAddr+":9901/metrics")
	pid, err := os.ReadFile(filepath.Join(e.rundir, "rtpengine.pid"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		t.Fatal(err)
	}
	proc, _ := os.FindProcess(p)
	if err := proc.Signal(os.Interrupt); err != nil {
		t.Fatalf("stop rtpengine (pid %d): %v", p, err)
	}
	for deadline := time.Now().Add(10 * time.Second); proc.Signal(syscall.Signal(0)) == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("rtpengine did not stop")
		}
	}
	kamcmd(t, e, "rtpengine.ping", "all")
	fams := scrape(t, base+"/metrics")
	if v, ok := find(fams, "kamailio_rtpengine_enabled", map[string]string{"url": "udp:" + kamAddr + ":2223"}); !ok || v != 0 {
		t.Errorf("kamailio_rtpengine_enabled = %v %v, want 0", v, ok)
	}
	if _, status := get(t, base+"/rtp_metrics"); status != http.StatusBadGateway {
		t.Errorf("/rtp_metrics with rtpengine down: %d, want 502", status)
	}
}

func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// rpc over every transport returns what kamcmd returns.
func TestRPCEveryTransport(t *testing.T) {
	e := setup(t)
	want := strings.TrimSpace(kamcmd(t, e, "core.version"))
	uris := []string{
		e.unixURI(),
		"unix:" + e.rundir + "/kamailio_ctl",
		"unixd://" + e.rundir + "/kamailio_ctl.dgram",
		"tcp://" + kamAddr + ":2046",
		"udp://" + kamAddr + ":2047",
	}
	for _, uri := range uris {
		t.Run(uri, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, e.bin, "rpc", "--kamailio.binrpc-uri="+uri, "core.version").Output()
			if err != nil {
				t.Fatalf("rpc: %v", err)
			}
			var vals []string
			if err := json.Unmarshal(out, &vals); err != nil || len(vals) != 1 {
				t.Fatalf("rpc output %q: %v", out, err)
			}
			if strings.TrimSpace(vals[0]) != want {
				t.Fatalf("rpc core.version = %q, kamcmd = %q", vals[0], want)
			}
			// A fault exits non-zero with "code message".
			cmd := exec.CommandContext(ctx, e.bin, "rpc", "--kamailio.binrpc-uri="+uri, "no.such.method")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil || strings.TrimSpace(stderr.String()) != "500 command no.such.method not found" {
				t.Fatalf("fault: err=%v stderr=%q", err, stderr.String())
			}
		})
	}
	// core.psa: the same pids as kamcmd.
	out := kamcmd(t, e, "core.psa")
	var kamPids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "pid:" {
			kamPids = append(kamPids, f[1])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := exec.CommandContext(ctx, e.bin, "rpc", "--kamailio.binrpc-uri=tcp://"+kamAddr+":2046", "core.psa").Output()
	if err != nil {
		t.Fatal(err)
	}
	var procs []map[string]any
	if err := json.Unmarshal(raw, &procs); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, p := range procs {
		ours = append(ours, fmt.Sprint(p["pid"]))
	}
	if len(ours) == 0 || !slices.Equal(ours, kamPids) {
		t.Fatalf("core.psa pids: ours %v, kamcmd %v", ours, kamPids)
	}
}

// complete checks a scrape of the real Kamailio: up, every collector
// succeeded, and the families of a full scrape are there.
func complete(t *testing.T, fams map[string]*dto.MetricFamily) error {
	if v, _ := find(fams, "kamailio_up", nil); v != 1 {
		return fmt.Errorf("kamailio_up = %v", v)
	}
	for _, m := range fams["kamailio_scrape_collector_success"].GetMetric() {
		if value(m) != 1 {
			return fmt.Errorf("collector %s failed", labels(m)["collector"])
		}
	}
	for _, f := range []string{"kamailio_core_rcv_request_total", "kamailio_dispatcher_list_target", "kamailio_pkgmem_used", "kamailio_tm_stats_current"} {
		if fams[f] == nil {
			return fmt.Errorf("family %s missing", f)
		}
	}
	return nil
}

// 50 concurrent scrapes, three times: every response complete, and the
// scrapes that overlap share rounds of RPCs.
func TestConcurrentScrapesRealKamailio(t *testing.T) {
	e := setup(t)
	base := startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI())
	errs := make(chan error, 150)
	for range 3 {
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 15 * time.Second}
				resp, err := client.Get(base + "/metrics")
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				p := expfmt.NewTextParser(model.UTF8Validation)
				fams, err := p.TextToMetricFamilies(resp.Body)
				if err == nil {
					err = complete(t, fams)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	fams := scrape(t, base+"/metrics")
	rounds, _ := find(fams, "kamailio_exporter_scrape_rounds_total", nil)
	t.Logf("151 scrapes took %v rounds of RPCs", rounds)
	if rounds < 1 || rounds > 151 {
		t.Errorf("rounds = %v", rounds)
	}
}

func kamailioScript(t *testing.T, e env, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../scripts/kamailio.sh", append(args, e.rundir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kamailio.sh %v: %v\n%s", args, err, out)
	}
}

// Kamailio restarted between scrapes and during scrapes: while it is gone
// the exporter says so (up 0) within the timeout, and the first scrape
// after it is back is complete.
func TestKamailioRestart(t *testing.T) {
	e := setup(t)
	base := startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI(), "--kamailio.timeout=3s")
	if err := complete(t, scrape(t, base+"/metrics")); err != nil {
		t.Fatal(err)
	}
	// Between scrapes.
	kamailioScript(t, e, "stop")
	begin := time.Now()
	fams := scrape(t, base+"/metrics")
	if v, _ := find(fams, "kamailio_up", nil); v != 0 {
		t.Errorf("kamailio_up = %v with Kamailio stopped", v)
	}
	if el := time.Since(begin); el > 5*time.Second {
		t.Errorf("scrape with Kamailio stopped took %v", el)
	}
	kamailioScript(t, e, "start")
	if err := complete(t, scrape(t, base+"/metrics")); err != nil {
		t.Errorf("first scrape after restart: %v", err)
	}
	// During scrapes: scrape continuously while Kamailio restarts.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served, failed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: 10 * time.Second}
		for i := 0; i < 500; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(base + "/metrics")
			if err != nil {
				failed++
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				served++
			} else {
				failed++
			}
		}
	}()
	kamailioScript(t, e, "stop")
	kamailioScript(t, e, "start")
	close(stop)
	wg.Wait()
	t.Logf("during the restart: %d pages served, %d not", served, failed)
	if failed > 0 || served == 0 {
		t.Errorf("during the restart: %d pages served, %d failed", served, failed)
	}
	if err := complete(t, scrape(t, base+"/metrics")); err != nil {
		t.Errorf("first scrape after restart during scrapes: %v", err)
	}
}

// A real Prometheus scrapes the exporter via /metrics and via /probe (with
// the usual relabelling); its HTTP API then answers kamailio_up for both
// and a non-zero INVITE rate while sipp sends calls.
func TestPrometheusScrapesMetricsAndProbe(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	// /probe scrapes only its own --kamailio.binrpc-uri unless a config
	// file lists other targets.
	probeCfg := filepath.Join(dir, "probe.yml")
	if err := os.WriteFile(probeCfg, []byte("targets:\n  - match: \"tcp://"+kamAddr+":2046\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI(), "--config.file="+probeCfg)
	exporterAddr := strings.TrimPrefix(base, "http://")
	promAddr := freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kamailio
    static_configs: [{targets: ['%s']}]
  - job_name: kamailio_probe
    metrics_path: /probe
    static_configs: [{targets: ['tcp://%s:2046']}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '%s'
`, exporterAddr, kamAddr, exporterAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, waitFor := startPrometheus(t, dir, promAddr)
	one := func(v []float64) bool { return len(v) == 1 && v[0] == 1 }
	waitFor("metrics path", `kamailio_up{job="kamailio"}`, one)
	waitFor("probe path", `kamailio_up{job="kamailio_probe",instance="tcp://`+kamAddr+`:2046"}`, one)
	waitFor("probe collectors", `min(kamailio_scrape_collector_success{job="kamailio_probe"})`, one)

	// Calls while Prometheus scrapes: the INVITE rate becomes positive.
	done := make(chan error, 1)
	go func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer ccancel()
		out, err := exec.CommandContext(cctx, "../scripts/kamailio.sh", "traffic", e.rundir, "30").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		done <- err
	}()
	waitFor("request rate", `sum(rate(kamailio_core_rcv_request_total{job="kamailio",method="invite"}[10s])) > 0`,
		func(v []float64) bool { return len(v) == 1 && v[0] > 0 })
	if err := <-done; err != nil {
		t.Errorf("sipp traffic: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// SIGHUP (systemctl reload) never stops the exporter: it keeps serving the
// real Kamailio, and says what it did.
func TestReloadKeepsServing(t *testing.T) {
	e := setup(t)
	base, logFile, cmd := startExporterCmd(t, e, "--kamailio.binrpc-uri="+e.unixURI())
	for range 2 {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if v, _ := find(scrape(t, base+"/metrics"), "kamailio_up", nil); v != 1 {
			t.Fatalf("after SIGHUP: kamailio_up = %v", v)
		}
	}
	if cmd.ProcessState != nil {
		t.Fatalf("exporter exited: %v", cmd.ProcessState)
	}
	log, _ := os.ReadFile(logFile)
	if !strings.Contains(string(log), "SIGHUP") {
		t.Errorf("the log does not say what SIGHUP did:\n%s", log)
	}
}

// One bound for one scrape, against the real Kamailio with its ctl process
// stopped (SIGSTOP: it accepts nothing and answers nothing) and an
// xhttp_prom page that answers late: the scrape takes --kamailio.timeout,
// or Prometheus's scrape timeout less the offset when that is shorter, not
// one timeout for the RPCs and another for the page.
func TestOneTimeoutRealKamailio(t *testing.T) {
	e := setup(t)
	ctlPid := 0
	var pid int
	for _, l := range strings.Split(kamcmd(t, e, "core.psa"), "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "pid: "); ok {
			pid, _ = strconv.Atoi(v)
		}
		if l == "description: ctl handler" {
			ctlPid = pid
		}
	}
	if ctlPid == 0 {
		t.Fatal("no ctl handler process in core.psa")
	}
	slow := &http.Server{Addr: freePort(t), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(30 * time.Second):
		case <-r.Context().Done():
		}
	})}
	go slow.ListenAndServe()
	defer slow.Close()
	for _, tc := range []struct {
		name, timeout, header string
		bound                 time.Duration
	}{
		{"--kamailio.timeout", "1s", "", 1800 * time.Millisecond},
		{"Prometheus's scrape timeout", "10s", "1.5", 1800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startExporter(t, e, "--kamailio.binrpc-uri=tcp://"+kamAddr+":2046", "--kamailio.timeout="+tc.timeout,
				"--kamailio.custom-metrics-url=http://"+slow.Addr+"/metrics")
			if err := syscall.Kill(ctlPid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			defer syscall.Kill(ctlPid, syscall.SIGCONT)
			req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
			if tc.header != "" {
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tc.header)
			}
			begin := time.Now()
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			el := time.Since(begin)
			syscall.Kill(ctlPid, syscall.SIGCONT)
			if el > tc.bound {
				t.Errorf("scrape took %v, want at most %v", el, tc.bound)
			}
			for _, w := range []string{"kamailio_up 0", `kamailio_scrape_collector_success{collector="custom_metrics"} 0`} {
				if !strings.Contains(string(body), w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

// startPrometheus runs the real Prometheus on promAddr with
// dir/prometheus.yml until the test ends, and returns a query of its API
// (the values of an instant query) and a wait for a query to satisfy ok
// (60 s at most).
func startPrometheus(t *testing.T, dir, promAddr string) (query func(q string) []float64, waitFor func(what, q string, ok func([]float64) bool)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	prom := exec.CommandContext(ctx, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		prom.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log (tail):\n%s", tail(string(b), 3000))
		}
	})
	query = func(q string) []float64 {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return nil
		}
		var out []float64
		for _, s := range r.Data.Result {
			if str, ok := s.Value[1].(string); ok {
				f, _ := strconv.ParseFloat(str, 64)
				out = append(out, f)
			}
		}
		return out
	}
	waitFor = func(what, q string, ok func([]float64) bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if v := query(q); ok(v) {
				t.Logf("%s: %s = %v", what, q, v)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s never satisfied within 60s (last %v)", what, q, query(q))
			}
		}
	}
	return query, waitFor
}

// Sharding a fleet across exporters with Prometheus's hashmod relabelling
// (the README's example): two exporters, one job each over the same
// file_sd target list of every ctl socket of the test Kamailio and its DMQ
// peer; every target is probed through exactly one exporter, with its URI
// as the instance.
func TestShardedProbes(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	peer := e.rundir + "/peer/kamailio_ctl"
	targets := []string{e.unixURI(), "unixd://" + e.rundir + "/kamailio_ctl.dgram", "tcp://" + kamAddr + ":2046",
		"udp://" + kamAddr + ":2047", "unix://" + peer}
	probeCfg := filepath.Join(dir, "probe.yml")
	var allow strings.Builder
	allow.WriteString("targets:\n")
	for _, tg := range targets {
		fmt.Fprintf(&allow, "  - match: %q\n", tg)
	}
	if err := os.WriteFile(probeCfg, []byte(allow.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sd, _ := json.Marshal([]map[string][]string{{"targets": targets}})
	if err := os.WriteFile(filepath.Join(dir, "targets.json"), sd, 0o644); err != nil {
		t.Fatal(err)
	}
	var jobs strings.Builder
	jobs.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n")
	for shard := range 2 {
		exporter := strings.TrimPrefix(startExporter(t, e, "--kamailio.binrpc-uri="+e.unixURI(), "--config.file="+probeCfg), "http://")
		fmt.Fprintf(&jobs, `  - job_name: kamailio_shard_%d
    metrics_path: /probe
    file_sd_configs: [{files: ['%s']}]
    relabel_configs:
      - {source_labels: [__address__], modulus: 2, target_label: __tmp_shard, action: hashmod}
      - {source_labels: [__tmp_shard], regex: "%d", action: keep}
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: '%s'}
`, shard, filepath.Join(dir, "targets.json"), shard, exporter)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(jobs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	query, waitFor := startPrometheus(t, dir, freePort(t))
	// Every target scraped, through one exporter: one up series each, all
	// 1 (the exporter answered), and as many as there are targets.
	waitFor("every target probed", `count(up{job=~"kamailio_shard_.*"} == 1)`, func(v []float64) bool {
		return len(v) == 1 && int(v[0]) == len(targets)
	})
	if v := query(`max(count by (instance) (up{job=~"kamailio_shard_.*"}))`); len(v) != 1 || v[0] != 1 {
		t.Errorf("a target is scraped by more than one exporter: %v", v)
	}
	for _, tg := range targets {
		if v := query(`kamailio_up{instance="` + tg + `"}`); len(v) != 1 {
			t.Errorf("%s: %d kamailio_up series, want 1", tg, len(v))
		}
	}
	t.Logf("shard 0: %v targets, shard 1: %v", query(`count(up{job="kamailio_shard_0"})`), query(`count(up{job="kamailio_shard_1"})`))
}
