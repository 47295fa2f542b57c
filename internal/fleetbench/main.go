// Command fleetbench probes a fleet of Kamailio targets through one
// exporter's /probe as Prometheus does, and measures the exporter
// (scripts/bench-fleet.sh): every target once a round, the round spread
// over an interval, each probe in a goroutine of its own with Prometheus's
// headers (its Accept header, gzip, the scrape timeout), on kept
// connections.
//
//	go run ./internal/fleetbench -exporter http://127.0.0.1:9494 -pid PID \
//	  -targets FILE -stats URL -rounds 3 -interval 15s
//
// FILE has one "URI kind" per line (kind: live, silent, dead), as
// internal/synthetic/fakekamailio -fleet writes it; URL serves the answering
// instances' counts of accepted connections and discoveries. A first,
// unmeasured round of the live targets makes their connections; one
// measured round of the live targets alone gives their latency without the
// bad targets; then each round probes every target. After each round it
// prints probes per second, exporter CPU per probe, resident memory (in all,
// and per target kept over the memory before the first probe), the
// exporter's connections to answering targets, the connections and
// discoveries the answering instances saw, and live-target latency. It
// fails when an answering target lost its connection, was discovered
// again, or a dead target's kamailio_failure_total is not the number of
// rounds it was probed in.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Accept header of Prometheus 3's scrapes (text preferred by the
// exporter's negotiation, as Prometheus's own scrapes of it get).
const accept = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

type target struct{ uri, kind string }

func main() {
	exporter := flag.String("exporter", "http://127.0.0.1:9494", "the exporter's base URL")
	pid := flag.Int("pid", 0, "the exporter's pid (CPU time, resident memory, sockets from /proc)")
	targetsFile := flag.String("targets", "", "the targets file")
	statsURL := flag.String("stats", "", "the fake fleet's counts (JSON)")
	rounds := flag.Int("rounds", 3, "measured rounds of every target")
	interval := flag.Duration("interval", 15*time.Second, "a round's length: the probes are spread over it")
	scrapeTimeout := flag.Duration("scrape-timeout", 10*time.Second, "Prometheus's scrape timeout (its header)")
	flag.Parse()
	targets, err := readTargets(*targetsFile)
	if err != nil {
		fail(err)
	}
	b := &bench{base: *exporter, pid: *pid, stats: *statsURL, timeout: *scrapeTimeout, interval: *interval,
		client: &http.Client{Timeout: *scrapeTimeout + 5*time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: len(targets), DisableCompression: true}}}
	var live []target
	for _, t := range targets {
		if t.kind == "live" {
			live = append(live, t)
		}
	}
	if b.rss0, err = rssBytes(b.pid); err != nil {
		fail(err)
	}
	fmt.Printf("targets: %d (%d live, %d silent, %d dead); round: %s\n", len(targets), len(live),
		count(targets, "silent"), count(targets, "dead"), *interval)
	b.round("warm-up, live targets", live, 0)
	c0, err := b.counts()
	if err != nil {
		fail(err)
	}
	ok := true
	if c0.Accepts != len(live) || c0.Discoveries != len(live) {
		fmt.Printf("FAIL: after the warm-up: %d connections and %d discoveries for %d live targets\n", c0.Accepts, c0.Discoveries, len(live))
		ok = false
	}
	ok = b.round("live targets only", live, 0) && ok
	for r := 1; r <= *rounds; r++ {
		ok = b.round(fmt.Sprintf("round %d, every target", r), targets, r) && ok
	}
	c, err := b.counts()
	if err != nil {
		fail(err)
	}
	if c != c0 {
		fmt.Printf("FAIL: answering instances saw %d connections and %d discoveries after the warm-up's %d and %d\n",
			c.Accepts, c.Discoveries, c0.Accepts, c0.Discoveries)
		ok = false
	}
	if !ok {
		os.Exit(1)
	}
	fmt.Println("every answering target kept its connection and its discovery; every dead target's failures counted")
}

type bench struct {
	base, stats       string
	pid               int
	rss0              int64 // the exporter's resident memory before the first probe
	kept              int   // the targets probed so far, each kept by the exporter
	timeout, interval time.Duration
	client            *http.Client
}

type counts struct{ Accepts, Discoveries int }

func (b *bench) counts() (counts, error) {
	var c counts
	resp, err := http.Get(b.stats)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

var failureTotal = regexp.MustCompile(`(?m)^kamailio_failure_total (\d+)$`)

// round probes targets once each, spread over the interval, and prints
// its figures; failures is the value every dead target's counter must
// have (0: not checked). It reports whether every check passed.
func (b *bench) round(name string, targets []target, failures int) bool {
	cpu0, _ := cpuSeconds(b.pid)
	begin := time.Now()
	var mu sync.Mutex
	var liveLatency []time.Duration
	var errs []string
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * b.interval / time.Duration(len(targets)))
			start := time.Now()
			body, err := b.probe(t.uri)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("%s (%s): %v", t.uri, t.kind, err))
			case t.kind == "live":
				liveLatency = append(liveLatency, took)
				if !strings.Contains(body, "\nkamailio_up 1\n") {
					errs = append(errs, t.uri+": live, not up")
				}
			case t.kind == "dead" && failures > 0:
				if m := failureTotal.FindStringSubmatch(body); m == nil || m[1] != strconv.Itoa(failures) {
					errs = append(errs, fmt.Sprintf("%s: dead, kamailio_failure_total %v after %d rounds", t.uri, m, failures))
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(begin)
	cpu1, _ := cpuSeconds(b.pid)
	rss, _ := rssBytes(b.pid)
	conns, _ := connectionsTo(b.pid, targets)
	c, _ := b.counts()
	slices.Sort(liveLatency)
	q := func(p float64) float64 {
		if len(liveLatency) == 0 {
			return 0
		}
		return liveLatency[int(p*float64(len(liveLatency)-1))].Seconds() * 1000
	}
	b.kept = max(b.kept, len(targets)) // every round's targets include the rounds' before
	fmt.Printf("%-28s %5d probes %6.1f/s  CPU %.3f ms/probe  RSS %5.1f MiB (%.1f KiB a target)  conns to live %d  fleet saw %d conns, %d discoveries  live latency p50 %.2f p99 %.2f max %.2f ms\n",
		name, len(targets), float64(len(targets))/took.Seconds(), (cpu1-cpu0)*1000/float64(len(targets)),
		float64(rss)/(1<<20), float64(rss-b.rss0)/1024/float64(b.kept), conns, c.Accepts, c.Discoveries, q(0.5), q(0.99), q(1))
	for i, e := range errs {
		if i == 5 {
			fmt.Printf("  ... %d more\n", len(errs)-5)
			break
		}
		fmt.Println("  FAIL:", e)
	}
	return len(errs) == 0
}

// probe GETs the target's probe as Prometheus does and returns the page.
func (b *bench) probe(uri string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, b.base+"/probe?target="+url.QueryEscape(uri), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(b.timeout.Seconds(), 'f', -1, 64))
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return "", err
		}
		r = zr
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(body), nil
}

func readTargets(file string) ([]target, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []target
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if uri, kind, ok := strings.Cut(strings.TrimSpace(sc.Text()), " "); ok {
			out = append(out, target{uri, kind})
		}
	}
	return out, sc.Err()
}

func count(targets []target, kind string) int {
	n := 0
	for _, t := range targets {
		if t.kind == kind {
			n++
		}
	}
	return n
}

// cpuSeconds is the user and system CPU time of pid.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100, nil // USER_HZ
}

// rssBytes is the resident memory of pid.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// connectionsTo counts pid's established TCP connections to the live
// targets: its socket inodes (/proc/PID/fd) found in /proc/net/tcp with a
// live target's port as the remote end.
func connectionsTo(pid int, targets []target) (int, error) {
	ports := map[string]bool{}
	for _, t := range targets {
		if t.kind == "live" {
			if i := strings.LastIndexByte(t.uri, ':'); i >= 0 {
				p, _ := strconv.Atoi(t.uri[i+1:])
				ports[fmt.Sprintf("0100007F:%04X", p)] = true
			}
		}
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + "/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[l[8:len(l)-1]] = true
		}
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 9 && f[3] == "01" && ports[f[2]] && inodes[f[9]] {
			n++
		}
	}
	return n, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fleetbench:", err)
	os.Exit(1)
}
