package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// Each module's bytes are the sum of its allocations, which is Kamailio's
// own "Total" of the module (it fits a C int here): the first struct after
// "Module: NAME" is pkg, the second shm. One RPC for both.
func TestModMemStats(t *testing.T) {
	for _, release := range releases(t) {
		if _, ok := loadRelease(t, release)["mod.mem_stats_all_all"]; !ok {
			continue
		}
		t.Run(release, func(t *testing.T) {
			s := replayRelease(t, release, "unix", nil)
			fams := gather(t, newTestExporter(t, s, 5*time.Second))
			if v := success(fams, "mod.mem_stats"); v != 1 {
				t.Fatalf("success = %v", v)
			}
			if n := s.Calls("mod.mem_stats"); n != 1 {
				t.Errorf("%d mod.mem_stats calls, want 1", n)
			}
			modules, module, i := 0, "", 0
			for _, v := range recordedValues(t, release, "mod.mem_stats_all_all") {
				if name, ok := strings.CutPrefix(v.Str, "Module: "); ok && v.Kind == binrpc.KindString {
					module, i = name, 0
					modules++
					continue
				}
				if v.Kind != binrpc.KindStruct {
					continue
				}
				typ := []string{"pkg", "shm"}[i]
				i++
				total, err := number(v, "Total")
				if err != nil {
					t.Fatalf("%s %s: %v", typ, module, err)
				}
				got, ok := sampleValue(fams, "kamailio_module_memory_bytes", map[string]string{"module": module, "type": typ})
				if !ok || got != total {
					t.Errorf("%s %s: %v %v, Kamailio's total %v", typ, module, got, ok, total)
				}
			}
			if modules < 10 || familyLen(fams, "kamailio_module_memory_bytes") != 2*modules {
				t.Errorf("%d modules in the recording, %d series", modules, familyLen(fams, "kamailio_module_memory_bytes"))
			}
			if v, _ := sampleValue(fams, "kamailio_module_memory_bytes", map[string]string{"module": "core", "type": "shm"}); v < 100000 {
				t.Errorf("core shm = %v bytes", v)
			}
		})
	}
}

// ctl sends each allocation site's size as a C int: recorded from 5.6.3
// with an htable of 2^26 entries (a 2 GiB allocation, -m 5000), whose
// site reads -2147474944. A size is never negative: it is read as
// unsigned, and so is the module's sum.
func TestModMemStatsPast2GiB(t *testing.T) {
	rec := loadRelease(t, defaultRelease)["mod.mem_stats_all_all_2g"]
	s := replay(t, "unix", map[string]fakectl.Response{"mod.mem_stats_all_all": {Recorded: &rec}})
	fams := gather(t, newTestExporter(t, s, 5*time.Second))
	want := 0.0
	inHtable, i := false, 0
	for _, v := range recordedValues(t, defaultRelease, "mod.mem_stats_all_all_2g") {
		if v.Kind == binrpc.KindString {
			inHtable, i = v.Str == "Module: htable", 0
			continue
		}
		if i++; !inHtable || i != 2 { // htable's shm
			continue
		}
		for _, m := range v.Members {
			if m.Name == "ht_init_tables(394)" && m.Value.Int >= 0 {
				t.Fatalf("the test's premise: a negative size; got %v", m.Value.Int)
			}
			if m.Name != "Total" {
				want += float64(uint32(m.Value.Int))
			}
		}
	}
	if want < 1<<31 {
		t.Fatalf("htable shm in the recording: %v", want)
	}
	if got, ok := sampleValue(fams, "kamailio_module_memory_bytes", map[string]string{"module": "htable", "type": "shm"}); !ok || got != want {
		t.Errorf("htable shm = %v %v, want %v", got, ok, want)
	}
}

func TestModMemStatsBadReply(t *testing.T) {
	mod := binrpc.String("Module: tm")
	alloc := binrpc.Struct(binrpc.Named("f(1)", binrpc.Int(8)), binrpc.Named("Total", binrpc.Int(8)))
	for name, vals := range map[string][]binrpc.Value{
		"struct without module": {alloc, alloc},
		"one struct":            {mod, alloc, binrpc.String("")},
		"three structs":         {mod, alloc, alloc, alloc},
		"not a number":          {mod, binrpc.Struct(binrpc.Named("f(1)", binrpc.String("many"))), alloc},
		"an int":                {binrpc.Int(1)},
		"other text":            {binrpc.String("Modules: tm"), alloc, alloc},
	} {
		t.Run(name, func(t *testing.T) {
			collectorFails(t, map[string]fakectl.Response{"mod.mem_stats_all_all": {Values: vals}}, "mod.mem_stats", "kamailio_module_memory_bytes")
		})
	}
	// Sums beyond a C int: 2 × 1.5 GB.
	big := binrpc.Struct(binrpc.Named("f(1)", binrpc.Int(1500000000)), binrpc.Named("f(2)", binrpc.Int(1500000000)), binrpc.Named("Total", binrpc.Int(-1294967296)))
	fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{"mod.mem_stats_all_all": {Values: []binrpc.Value{mod, alloc, big, binrpc.String("")}}}), 5*time.Second))
	if v, _ := sampleValue(fams, "kamailio_module_memory_bytes", map[string]string{"module": "tm", "type": "shm"}); v != 3e9 {
		t.Errorf("tm shm = %v, want 3e9", v)
	}
}

// mod.mem_stats is off unless --collector.mod.mem_stats is given; the
// other collectors are on unless --no-collector.<name>.
func TestModMemStatsOffByDefault(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--collector.mod.mem_stats"}, true}} {
		app := kingpin.New("test", "")
		sel := AddFlags(app)
		if _, err := app.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		if *sel["mod.mem_stats"] != tt.want || !*sel["uac.reg_dump"] || !*sel["tm.stats"] {
			t.Fatalf("%v: mod.mem_stats %v, uac.reg_dump %v, tm.stats %v", tt.args, *sel["mod.mem_stats"], *sel["uac.reg_dump"], *sel["tm.stats"])
		}
		s := replay(t, "unix", nil)
		addr, _ := binrpc.ParseURI(s.URI())
		fams := gather(t, NewExporter(addr, 5*time.Second, testSettings, sel, promslog.NewNopLogger()))
		if ran := success(fams, "mod.mem_stats") == 1; ran != tt.want || s.Calls("mod.mem_stats") > 0 != tt.want {
			t.Errorf("%v: mod.mem_stats ran %v (%d calls), want %v", tt.args, ran, s.Calls("mod.mem_stats"), tt.want)
		}
		// A selection that does not name it leaves it off.
		fams = gather(t, NewExporter(addr, 5*time.Second, testSettings, Selection{}, promslog.NewNopLogger()))
		if success(fams, "mod.mem_stats") != -1 || success(fams, "tm.stats") != 1 {
			t.Errorf("empty selection: mod.mem_stats %v, tm.stats %v", success(fams, "mod.mem_stats"), success(fams, "tm.stats"))
		}
	}
}
