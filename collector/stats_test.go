package collector

import (
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// Scripted statistics: names lower-cased and sanitised, typed by suffix,
// never colliding with a static family, never duplicated.
func TestScriptedStatistics(t *testing.T) {
	stats := binrpc.Struct(
		binrpc.Named("script.my_calls_total", binrpc.String("7")),
		binrpc.Named("script.Active-Widgets", binrpc.String("3")),
		binrpc.Named("script.active_widgets", binrpc.String("4")),
		binrpc.Named("script.tcp_readers", binrpc.String("99")),
		binrpc.Named("script.up", binrpc.String("5")),
		binrpc.Named("script.big", binrpc.String("18446744073709551615")),
		binrpc.Named("core.rcv_requests_invite", binrpc.String("12")),
	)
	e := newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"stats.fetch_all": {Values: []binrpc.Value{stats}},
	}), 5*time.Second)
	fams := gather(t, e) // a pedantic registry: duplicates or bad names fail here
	for name, want := range map[string]float64{"kamailio_my_calls_total": 7, "kamailio_active_widgets": 3, "kamailio_big": 18446744073709551615} {
		if v, ok := sampleValue(fams, name, nil); !ok || v != want {
			t.Errorf("%s = %v %v, want %v", name, v, ok, want)
		}
	}
	if v, _ := sampleValue(fams, "kamailio_up", nil); v != 1 {
		t.Errorf("script.up overrode kamailio_up: %v", v)
	}
	if v, _ := sampleValue(fams, "kamailio_tcp_readers", nil); v == 99 {
		t.Errorf("script.tcp_readers overrode kamailio_tcp_readers")
	}
	for _, f := range fams {
		if f.GetName() == "kamailio_my_calls_total" && f.GetType() != dto.MetricType_COUNTER {
			t.Errorf("my_calls_total type %v", f.GetType())
		}
		if f.GetName() == "kamailio_active_widgets" && f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("active_widgets type %v", f.GetType())
		}
	}
}

// recordedStatistics returns "group.name" → value of a release's recorded
// "stats.get_statistics all", the list kamcmd shows.
func recordedStatistics(t *testing.T, release string) map[string]float64 {
	t.Helper()
	rec, ok := loadRelease(t, release)["stats.get_statistics_all"]
	if !ok {
		t.Fatalf("%s: no stats.get_statistics_all recording", release)
	}
	vals, err := binrpc.DecodePayload(rec.Payload)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, v := range vals {
		group, rest, _ := strings.Cut(v.Str, ":")
		name, value, ok := strings.Cut(rest, " = ")
		f, err := strconv.ParseFloat(value, 64)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q", release, v.Str)
		}
		out[group+"."+name] = f
	}
	return out
}

var fault500 = &fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "Internal error"}}

// No statistic is lost at ctl's reply limits. The recordings come from the
// test Kamailio with ctl's default limits and 300 scripted statistics,
// where "stats.fetch all" and "stats.fetch script:" fault: whatever way the
// exporter has to take, every statistic kamcmd lists is exported with its
// value.
func TestStatsFetchEveryStatistic(t *testing.T) {
	cases := []struct {
		name     string
		override map[string]fakectl.Response
		// groups: kamailio_stats_group_success is expected, by group
		groups bool
		failed string // a group that cannot be read
		// noCounters: Kamailio without the counters module (no cnt.*
		// method): the groups of every release are read
		noCounters bool
	}{
		{name: "get_statistics all"},
		{name: "per group, listed by cnt.grps_list", groups: true,
			override: map[string]fakectl.Response{"stats.get_statistics_all": *fault500}},
		// The script group is too large for stats.fetch script:, and a
		// stats.get_statistics script: reply cannot be checked without
		// cnt.var_list: not exported.
		{name: "per group, known groups", groups: true, noCounters: true, failed: "script",
			override: map[string]fakectl.Response{"stats.get_statistics_all": *fault500}},
		{name: "one group unreadable", groups: true, failed: "script",
			override: map[string]fakectl.Response{"stats.get_statistics_all": *fault500,
				"stats.get_statistics_script": *fault500}},
	}
	for _, release := range releases(t) {
		want := recordedStatistics(t, release)
		if len(want) < 300 {
			t.Fatalf("%s: %d statistics recorded, want the test config's 300 scripted ones and more", release, len(want))
		}
		for _, c := range cases {
			t.Run(release+"/"+c.name, func(t *testing.T) {
				override := maps.Clone(c.override)
				if c.noCounters {
					methods := slices.DeleteFunc(recordedValues(t, release, "system.listMethods"),
						func(v binrpc.Value) bool { return strings.HasPrefix(v.Str, "cnt.") })
					override["system.listMethods"] = fakectl.Response{Values: methods}
				}
				fams := gather(t, newTestExporter(t, replayRelease(t, release, "unix", override), 5*time.Second))
				if v, _ := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); v != 1 {
					t.Fatalf("stats.fetch failed")
				}
				lost := 0
				for stat, value := range want {
					fam, labels, ok := StatisticSeries(stat)
					if !ok {
						t.Errorf("%s: not exported", stat)
						continue
					}
					if strings.HasPrefix(stat, c.failed+".") {
						if _, ok := sampleValue(fams, fam, labels); ok {
							t.Errorf("%s exported from a group that failed", stat)
						}
						continue
					}
					if got, ok := sampleValue(fams, fam, labels); !ok || got != value {
						lost++
						if lost < 10 {
							t.Errorf("%s: %s%v = %v %v, want %v", stat, fam, labels, got, ok, value)
						}
					}
				}
				groups := familyLen(fams, "kamailio_stats_group_success")
				if !c.groups && groups != 0 {
					t.Errorf("%d group series when all statistics came in one reply", groups)
				}
				if c.groups {
					if v, ok := sampleValue(fams, "kamailio_stats_group_success", map[string]string{"group": "core"}); !ok || v != 1 {
						t.Errorf("group core: success %v %v", v, ok)
					}
					v, ok := sampleValue(fams, "kamailio_stats_group_success", map[string]string{"group": "script"})
					if wantV := map[bool]float64{true: 0, false: 1}[c.failed == "script"]; !ok || v != wantV {
						t.Errorf("group script: success %v %v, want %v", v, ok, wantV)
					}
				}
			})
		}
	}
}

// The fast path: when one struct holds them all, "stats.fetch all" is the
// only request (here answered with the recorded reply of one group).
func TestStatsFetchAllInOneReply(t *testing.T) {
	for _, release := range releases(t) {
		recs := loadRelease(t, release)
		core := recs["stats.fetch_core"]
		asked := map[string]int{}
		s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
			k := requestKey(r)
			asked[k]++
			if k == "stats.fetch_all" {
				return fakectl.Response{Raw: core.Replay(r.Cookie)}
			}
			return recorded(recs, r)
		})
		if err != nil {
			t.Fatal(err)
		}
		fams := gather(t, newTestExporter(t, s, 5*time.Second))
		s.Close()
		if v, ok := sampleValue(fams, "kamailio_core_request_total", map[string]string{"method": "rcv"}); !ok || v == 0 {
			t.Errorf("%s: kamailio_core_request_total{method=rcv} = %v %v", release, v, ok)
		}
		if asked["stats.get_statistics_all"]+asked["stats.fetch_core"] != 0 {
			t.Errorf("%s: fallback requests sent although stats.fetch all answered: %v", release, asked)
		}
	}
}

// A fault that is not about size is the collector's error, as it is.
func TestStatsFetchOtherFault(t *testing.T) {
	fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"stats.fetch_all": {Fault: &binrpc.FaultError{Code: 400, Message: "stats support not enabled"}},
	}), 5*time.Second))
	if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "stats.fetch"}); !ok || v != 0 {
		t.Errorf("stats.fetch success %v %v, want 0", v, ok)
	}
	if n := familyLen(fams, "kamailio_core_request_total"); n != 0 {
		t.Errorf("%d series of a failed collector", n)
	}
}

// statsScrapes scrapes the recorded 5.6.3 Kamailio, some replies replaced by
// other recordings, through
// one exporter; scrape returns the families, their text without the
// rounds counter, and the requests Kamailio got. restart gives Kamailio a
// new up_since. logs returns what the exporter logged.
func statsScrapes(t *testing.T, replace map[string]fakectl.Recording) (scrape func(restart bool) ([]*dto.MetricFamily, string, []string), logs func() string) {
	recs := loadRelease(t, defaultRelease)
	var mu sync.Mutex
	var buf strings.Builder
	var asked []string
	upSince := "before"
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		mu.Lock()
		defer mu.Unlock()
		k := requestKey(r)
		asked = append(asked, k)
		if r.Method == "core.uptime" {
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(binrpc.Named("up_since", binrpc.String(upSince)))}}
		}
		if rec, ok := replace[k]; ok {
			return fakectl.Response{Raw: rec.Replay(r.Cookie)}
		}
		return recorded(recs, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	addr, _ := binrpc.ParseURI(s.URI())
	e := NewExporter(addr, 5*time.Second, testSettings, nil, slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil)))
	t.Cleanup(e.Close)
	scrape = func(restart bool) ([]*dto.MetricFamily, string, []string) {
		mu.Lock()
		asked = nil
		if restart {
			upSince = "after"
		}
		mu.Unlock()
		fams := gather(t, e)
		var b strings.Builder
		for _, f := range fams {
			if f.GetName() == "kamailio_exporter_scrape_rounds_total" {
				continue // counts the scrapes
			}
			if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return fams, b.String(), slices.Clone(asked)
	}
	logs = func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	return scrape, logs
}

// count returns how many of asked are key.
func count(asked []string, key string) int {
	return len(slices.DeleteFunc(slices.Clone(asked), func(k string) bool { return k != key }))
}

// A Kamailio whose statistics are too large for "stats.fetch all" is asked
// "stats.get_statistics all" directly for the rest of its run: ctl builds
// the whole struct and logs an error for every statistic past its limit
// before it faults, on every scrape otherwise. The request is sent ahead
// with the others; a restart (a new up_since) tries stats.fetch all again.
func TestStatsFetchTooLargeLearnedPerRun(t *testing.T) {
	scrape, _ := statsScrapes(t, nil)
	_, first, asked1 := scrape(false)
	_, second, asked2 := scrape(false)
	_, third, asked3 := scrape(true)
	for i, c := range []struct {
		asked      []string
		fetch, get int
	}{{asked1, 1, 1}, {asked2, 0, 1}, {asked3, 1, 1}} {
		if f, g := count(c.asked, "stats.fetch_all"), count(c.asked, "stats.get_statistics_all"); f != c.fetch || g != c.get {
			t.Errorf("scrape %d: stats.fetch all asked %d times, stats.get_statistics all %d; want %d and %d", i+1, f, g, c.fetch, c.get)
		}
	}
	// Sent ahead: in collector order, before tls.info's request.
	if i, j := slices.Index(asked2, "stats.get_statistics_all"), slices.Index(asked2, "tls.info"); i < 0 || j < 0 || i > j {
		t.Errorf("second scrape's requests %v: stats.get_statistics all not sent ahead", asked2)
	}
	// The statistics were counted group by group at the first scrape of
	// each run only.
	if a, b, c := count(asked1, "stats.fetch_core"), count(asked2, "stats.fetch_core"), count(asked3, "stats.fetch_core"); a != 1 || b != 0 || c != 1 {
		t.Errorf("stats.fetch core: asked %d, %d, %d times, want 1, 0, 1", a, b, c)
	}
	if !strings.Contains(first, "kamailio_scripted_statistic_300") || first != second || second != third {
		t.Errorf("the scrapes differ or lack the scripted statistics:\n%s\n---\n%s", first, second)
	}
}

// ctl leaves out of "stats.get_statistics all" the lines past
// binrpc_max_body_size, without a fault (recorded from Kamailio 5.6.3 with
// modparam("ctl", "binrpc_max_body_size", 12): 357 of the 464 lines). The
// exporter finds it by the count of the first scrape, reads group by group
// for the rest of the run (a group too large for one struct with
// stats.get_statistics), warns once, and loses no statistic.
func TestStatsGetStatisticsTruncated(t *testing.T) {
	truncated, err := fakectl.ReadRecording(filepath.Join(recordingsDir, defaultRelease, "stats.get_statistics_all_truncated.bin"))
	if err != nil {
		t.Fatal(err)
	}
	scrape, logs := statsScrapes(t, map[string]fakectl.Recording{"stats.get_statistics_all": truncated})
	want := recordedStatistics(t, defaultRelease)
	var texts []string
	for i := range 3 {
		fams, text, asked := scrape(false)
		texts = append(texts, text)
		for stat, value := range want {
			fam, labels, _ := StatisticSeries(stat)
			if got, ok := sampleValue(fams, fam, labels); !ok || got != value {
				t.Fatalf("scrape %d: %s: %s%v = %v %v, want %v", i+1, stat, fam, labels, got, ok, value)
			}
		}
		if v, ok := sampleValue(fams, "kamailio_stats_group_success", map[string]string{"group": "script"}); !ok || v != 1 {
			t.Errorf("scrape %d: group script: success %v %v", i+1, v, ok)
		}
		if g, wantG := count(asked, "stats.get_statistics_all"), map[bool]int{true: 1, false: 0}[i == 0]; g != wantG {
			t.Errorf("scrape %d: stats.get_statistics all asked %d times, want %d", i+1, g, wantG)
		}
		// The script group is too large for one struct: learned once.
		if f, wantF := count(asked, "stats.fetch_script"), map[bool]int{true: 1, false: 0}[i == 0]; f != wantF {
			t.Errorf("scrape %d: stats.fetch script: asked %d times, want %d", i+1, f, wantF)
		}
	}
	if texts[1] != texts[2] {
		t.Errorf("the second and third scrapes differ")
	}
	if n := strings.Count(logs(), "stats.get_statistics all is incomplete"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs())
	}
}

// A group too large for one struct is read with "stats.get_statistics
// GROUP:", which ctl cuts at binrpc_max_body_size without a fault
// (recorded from 5.6.3 with 1 303 scripted statistics: 996 lines, and
// cnt.var_list's 1 303 names). The group is reported as not read, with a
// warning once that names the ctl parameter, and none of its statistics is
// exported; the other groups are. Without the counters module a reply of
// that kind cannot be checked: the group is not exported either, and the
// warning says so.
func TestStatsGroupCutShort(t *testing.T) {
	read := func(name string) fakectl.Recording {
		rec, err := fakectl.ReadRecording(filepath.Join(recordingsDir, defaultRelease, name+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	replace := map[string]fakectl.Recording{
		"stats.get_statistics_all":    read("stats.get_statistics_all_truncated"),
		"stats.get_statistics_script": read("stats.get_statistics_script_1300"),
		"cnt.var_list_script":         read("cnt.var_list_script_1300"),
	}
	methods := recordedValues(t, defaultRelease, "system.listMethods")
	noCounters := slices.DeleteFunc(slices.Clone(methods), func(v binrpc.Value) bool { return strings.HasPrefix(v.Str, "cnt.") })
	if len(noCounters) == len(methods) {
		t.Fatal("the recorded method list has no cnt.* method")
	}
	for _, tc := range []struct {
		name    string
		methods []binrpc.Value
		warning string
	}{
		{"with counters", methods, `binrpc_max_body_size`},
		{"without counters", noCounters, `without the counters module`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var payload []byte
			for _, v := range tc.methods {
				var err error
				if payload, err = binrpc.AppendValue(payload, v); err != nil {
					t.Fatal(err)
				}
			}
			r := maps.Clone(replace)
			r["system.listMethods"] = fakectl.Recording{Type: binrpc.TypeReply, Payload: payload}
			scrape, logs := statsScrapes(t, r)
			for i := range 2 {
				fams, _, _ := scrape(false)
				if v := success(fams, "stats.fetch"); v != 1 {
					t.Fatalf("scrape %d: stats.fetch success %v", i+1, v)
				}
				for g, want := range map[string]float64{"script": 0, "core": 1, "tmx": 1} {
					if v, ok := sampleValue(fams, "kamailio_stats_group_success", map[string]string{"group": g}); !ok || v != want {
						t.Errorf("scrape %d: group %s: success %v %v, want %v", i+1, g, v, ok, want)
					}
				}
				for _, f := range fams {
					if strings.HasPrefix(f.GetName(), "kamailio_extra_statistic_") || strings.HasPrefix(f.GetName(), "kamailio_scripted_statistic_") {
						t.Fatalf("scrape %d: %s exported from a group read in part", i+1, f.GetName())
					}
				}
				if familyLen(fams, "kamailio_core_request_total") == 0 {
					t.Errorf("scrape %d: the core group lost", i+1)
				}
			}
			if n := strings.Count(logs(), "statistics group not exported"); n != 1 || !strings.Contains(logs(), tc.warning) {
				t.Errorf("warned %d times, want once naming %q:\n%s", n, tc.warning, logs())
			}
		})
	}
}

// Every group of the type table is in the list of groups read one by one
// without the counters module.
func TestKnownStatGroups(t *testing.T) {
	for stat := range tableTypes(t) {
		g, _, _ := strings.Cut(stat, ".")
		if !slices.Contains(knownStatGroups, g) {
			t.Errorf("group %s (of %s) is not in knownStatGroups", g, stat)
		}
	}
}
