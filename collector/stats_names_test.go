package collector

import (
	"bufio"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

// tableTypes reads stat_types.tsv, apart from the exporter's own reading:
// statistic → "counter" or "gauge".
func tableTypes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("stat_types.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "statistic\t") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 3 || (cols[1] != "counter" && cols[1] != "gauge") || cols[2] == "" {
			t.Fatalf("stat_types.tsv: bad line %q", line)
		}
		out[cols[0]] = cols[1]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 400 {
		t.Fatalf("stat_types.tsv: %d statistics", len(out))
	}
	return out
}

// referenceTypes are the reference exporter's families whose type is not
// their statistics' own; kept so that existing dashboards keep working.
var referenceTypes = map[string]string{
	"dialog.active_dialogs": "kamailio_dialog is a counter in the reference exporter",
	"dialog.early_dialogs":  "kamailio_dialog is a counter in the reference exporter",
}

// Every statistic of the type table gets its type: as a generic family
// (--kamailio.all-statistics) and in the reference family it is curated
// into, if any. Counters end in _total once.
func TestStatTypes(t *testing.T) {
	for stat, want := range tableTypes(t) {
		name := strings.NewReplacer("*", "location").Replace(stat) // a usrloc table, a sipcapture mode
		if script, ok := strings.CutPrefix(name, "script."); ok {
			// Scripted statistics are typed by the reference's suffix rule.
			if d := scriptDesc(script); typeName(d) != want {
				t.Errorf("%s: scripted family %s is a %s, want %s", stat, d.Name(), typeName(d), want)
			}
			continue
		}
		d := statDesc(name)
		if d == nil {
			t.Errorf("%s: no generic family", stat)
			continue
		}
		if got := typeName(d); got != want {
			t.Errorf("%s: %s is a %s, want %s", stat, d.Name(), got, want)
		}
		if want == "counter" && (!strings.HasSuffix(d.Name(), "_total") || strings.HasSuffix(d.Name(), "_total_total")) {
			t.Errorf("%s: counter named %s", stat, d.Name())
		}
		if series, ok := curatedStat(name); ok && typeName(series.desc) != want && referenceTypes[name] == "" {
			t.Errorf("%s: reference family %s is a %s, want %s", stat, series.desc.Name(), typeName(series.desc), want)
		}
	}
}

// typeName is d's type as the text format writes it.
func typeName(d *page.Desc) string { return strings.ToLower(d.Type().ToDTO().String()) }

func TestStatisticNames(t *testing.T) {
	tests := map[string]string{
		"usrloc.location_contacts": "kamailio_stats_usrloc_location_contacts gauge", // a table's, by pattern
		"mod.errors_total":         "kamailio_stats_mod_errors_total counter",
		"tsilo.total_ruris":        "kamailio_stats_tsilo_total_ruris_total counter",
		"uac.regtotal":             "kamailio_stats_uac_regtotal gauge",
		"Weird.Name-With.Dots":     "kamailio_stats_weird_name_with_dots_total counter",
		"counters.current_calls":   "kamailio_stats_counters_current_calls gauge",
	}
	for key, want := range tests {
		d := statDesc(key)
		if got := d.Name() + " " + typeName(d); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
}

// Every reply code and request method of every release is a label of the
// reference families, so that one query works on all of them.
func TestReplyCodesAndMethodsAreLabels(t *testing.T) {
	for stat, want := range map[string]string{
		"core.rcv_replies_401":         "kamailio_core_rcv_reply_total code=401",
		"core.rcv_replies_493":         "kamailio_core_rcv_reply_total code=493",
		"core.rcv_replies_18x":         "kamailio_core_rcv_reply_total code=18x",
		"core.rcv_requests_kdmq":       "kamailio_core_rcv_request_total method=kdmq",
		"core.rcv_requests_invite":     "kamailio_core_rcv_request_total method=invite",
		"core.unsupported_methods":     "kamailio_core_rcv_request_total method=unsupported",
		"core.rcv_replies_2xx_bye":     "kamailio_stats_core_rcv_replies_by_method_total class=2xx method=bye",
		"core.rcv_replies_6xx_options": "kamailio_stats_core_rcv_replies_by_method_total class=6xx method=options",
	} {
		fam, labels, ok := StatisticSeries(stat)
		got := fam
		for k, v := range labels {
			got += " " + k + "=" + v
		}
		if !ok || (len(labels) > 1) != strings.Contains(want, "class") || !sameSeries(got, want) {
			t.Errorf("%s: %s, want %s", stat, got, want)
		}
	}
}

// sameSeries compares "family k=v k=v" ignoring the order of the labels.
func sameSeries(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) != len(fb) || len(fa) == 0 || fa[0] != fb[0] {
		return false
	}
	seen := map[string]bool{}
	for _, x := range fa[1:] {
		seen[x] = true
	}
	for _, x := range fb[1:] {
		if !seen[x] {
			return false
		}
	}
	return true
}

// Every statistic recorded from every release has a row in the type
// table, exactly or by a pattern (a usrloc table's).
func TestEveryRecordedStatisticInTable(t *testing.T) {
	eachRelease(t, func(t *testing.T, release string) {
		for stat := range recordedStatistics(t, release) {
			_, ok := statTypes[stat]
			for _, p := range statTypePatterns {
				ok = ok || p.matches(stat)
			}
			if !ok {
				t.Errorf("%s: no row in stat_types.tsv", stat)
			}
		}
	})
}

// The descriptors of Kamailio's statistics are built once per process, not
// once per exporter: the targets of /probe share them. A second exporter's
// first scrape of the same Kamailio builds none.
func TestStatDescsSharedByExporters(t *testing.T) {
	s := replay(t, "unix", nil)
	gather(t, newTestExporter(t, s, 5*time.Second))
	snapshot := func() map[descKey]*page.Desc {
		statDescs.mu.RLock()
		defer statDescs.mu.RUnlock()
		return maps.Clone(statDescs.m)
	}
	first := snapshot()
	if len(first) < 300 {
		t.Fatalf("%d descriptors cached after a scrape of every statistic, want the recording's 300 scripted ones and more", len(first))
	}
	gather(t, newTestExporter(t, s, 5*time.Second))
	if second := snapshot(); !maps.Equal(first, second) {
		t.Fatalf("a second exporter's scrape changed the shared descriptors: %d before, %d after", len(first), len(second))
	}
}
