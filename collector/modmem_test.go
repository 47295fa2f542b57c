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
// own "Total" of the module (it fits a C int here), for shm and pkg.
func TestModMemStats(t *testing.T) {
	for _, release := range releases(t) {
		if _, ok := loadRelease(t, release)["mod.mem_stats_all_shm"]; !ok {
			continue
		}
		t.Run(release, func(t *testing.T) {
			fams := gather(t, newTestExporter(t, replayRelease(t, release, "unix", nil), 5*time.Second))
			if v := success(fams, "mod.mem_stats"); v != 1 {
				t.Fatalf("success = %v", v)
			}
			for _, typ := range []string{"shm", "pkg"} {
				vals := recordedValues(t, release, "mod.mem_stats_all_"+typ)
				modules := 0
				module := ""
				for _, v := range vals {
					if name, ok := strings.CutPrefix(v.Str, "Module: "); ok && v.Kind == binrpc.KindString {
						module = name
						continue
					}
					if v.Kind != binrpc.KindStruct {
						continue
					}
					total, err := number(v, "Total")
					if err != nil {
						t.Fatalf("%s %s: %v", typ, module, err)
					}
					got, ok := sampleValue(fams, "kamailio_module_memory_bytes", map[string]string{"module": module, "type": typ})
					if !ok || got != total {
						t.Errorf("%s %s: %v %v, Kamailio's total %v", typ, module, got, ok, total)
					}
					modules++
				}
				if modules < 10 {
					t.Errorf("%s: %d modules in the recording", typ, modules)
				}
			}
			if v, _ := sampleValue(fams, "kamailio_module_memory_bytes", map[string]string{"module": "core", "type": "shm"}); v < 100000 {
				t.Errorf("core shm = %v bytes", v)
			}
		})
	}
}

func TestModMemStatsBadReply(t *testing.T) {
	for name, vals := range map[string][]binrpc.Value{
		"struct without module": {binrpc.Struct(binrpc.Named("f(1)", binrpc.Int(8)))},
		"not a number":          {binrpc.String("Module: tm"), binrpc.Struct(binrpc.Named("f(1)", binrpc.String("many")))},
		"an int":                {binrpc.Int(1)},
	} {
		t.Run(name, func(t *testing.T) {
			fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{"mod.mem_stats_all_pkg": {Values: vals}}), 5*time.Second))
			if v := success(fams, "mod.mem_stats"); v != 0 {
				t.Errorf("success = %v, want 0", v)
			}
			if n := familyLen(fams, "kamailio_module_memory_bytes"); n != 0 {
				t.Errorf("%d series from a failed collector (the shm ones included)", n)
			}
		})
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
