package collector

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// dlg.stats_active: the active dialogs by state; every release answers
// alike.
func TestDlgStatsActive(t *testing.T) {
	const want = `
# HELP kamailio_dlg_stats_active_all Dialog all.
# TYPE kamailio_dlg_stats_active_all gauge
kamailio_dlg_stats_active_all 20
# HELP kamailio_dlg_stats_active_answering Dialog answering.
# TYPE kamailio_dlg_stats_active_answering gauge
kamailio_dlg_stats_active_answering 20
# HELP kamailio_dlg_stats_active_connecting Dialog connecting.
# TYPE kamailio_dlg_stats_active_connecting gauge
kamailio_dlg_stats_active_connecting 0
# HELP kamailio_dlg_stats_active_ongoing Dialog ongoing.
# TYPE kamailio_dlg_stats_active_ongoing gauge
kamailio_dlg_stats_active_ongoing 0
# HELP kamailio_dlg_stats_active_starting Dialog starting.
# TYPE kamailio_dlg_stats_active_starting gauge
kamailio_dlg_stats_active_starting 0
`
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "dlg.stats_active", want)
	})
}

// dlg.profile_get_size for the profiles inbound, caller and
// no_such_profile (testSettings): a size for each profile Kamailio knows,
// and whether it knows each one; every release answers alike.
func TestDlgProfileGetSize(t *testing.T) {
	const want = `
# HELP kamailio_dlg_profile_found kamailio_exporter: Whether Kamailio knows the dialog profile named in --collector.dialog.profiles (0: it answered "not found").
# TYPE kamailio_dlg_profile_found gauge
kamailio_dlg_profile_found{profile="caller"} 1
kamailio_dlg_profile_found{profile="inbound"} 1
kamailio_dlg_profile_found{profile="no_such_profile"} 0
# HELP kamailio_dlg_profile_get_size_dialog Current number of dialogs belonging to a profile.
# TYPE kamailio_dlg_profile_get_size_dialog gauge
kamailio_dlg_profile_get_size_dialog{profile="caller"} 20
kamailio_dlg_profile_get_size_dialog{profile="inbound"} 20
`
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "dlg.profile_get_size", want)
	})
}

// An unknown dialog profile is logged once per Kamailio run (again after a
// restart, when core.uptime's up_since changes), not on every scrape, and
// kamailio_dlg_profile_found tells which profiles Kamailio knows.
func TestUnknownDialogProfileLoggedOncePerRun(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	upSince := "Wed Nov 25 04:01:32 2026"
	recs := loadRecordings(t)
	s, err := fakectl.Start("unix", func(r fakectl.Request) fakectl.Response {
		if r.Method == "core.uptime" {
			mu.Lock()
			defer mu.Unlock()
			return fakectl.Response{Values: []binrpc.Value{binrpc.Struct(
				binrpc.Named("now", binrpc.String(upSince)), binrpc.Named("up_since", binrpc.String(upSince)),
				binrpc.Named("uptime", binrpc.Int(1)))}}
		}
		return recorded(recs, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, _ := binrpc.ParseURI(s.URI())
	e := NewExporter(addr, 5*time.Second, testSettings, nil, logger)
	defer e.Close()
	logged := func() int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(buf.String(), "dialog profile not found")
	}
	for i := range 3 {
		fams := gather(t, e)
		for profile, want := range map[string]float64{"inbound": 1, "caller": 1, "no_such_profile": 0} {
			if v, ok := sampleValue(fams, "kamailio_dlg_profile_found", map[string]string{"profile": profile}); !ok || v != want {
				t.Errorf("scrape %d: kamailio_dlg_profile_found{profile=%q} = %v %v, want %v", i+1, profile, v, ok, want)
			}
		}
		if v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": "dlg.profile_get_size"}); !ok || v != 1 {
			t.Errorf("scrape %d: dlg.profile_get_size success %v %v", i+1, v, ok)
		}
		if n := logged(); n != 1 {
			t.Fatalf("after %d scrapes the unknown profile was logged %d times, want once:\n%s", i+1, n, buf.String())
		}
	}
	mu.Lock()
	upSince = "Wed Nov 25 05:00:00 2026" // Kamailio restarted
	mu.Unlock()
	gather(t, e)
	gather(t, e)
	if n := logged(); n != 2 {
		t.Fatalf("after a restart: logged %d times in all, want 2", n)
	}
}
