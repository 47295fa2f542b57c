package collector

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// recordedValues decodes one recorded reply of a release.
func recordedValues(t *testing.T, release, key string) []binrpc.Value {
	t.Helper()
	rec, ok := loadRelease(t, release)[key]
	if !ok {
		t.Fatalf("no recording %s/%s", release, key)
	}
	vals, err := binrpc.DecodePayload(rec.Payload)
	if err != nil {
		t.Fatalf("%s/%s: %v", release, key, err)
	}
	return vals
}

// scrapeLogged scrapes a server once through a registry at debug level and
// returns the families, the text exposition and the log.
func scrapeLogged(t *testing.T, s *fakectl.Server) ([]*dto.MetricFamily, string, string) {
	t.Helper()
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr, err := binrpc.ParseURI(s.URI())
	if err != nil {
		t.Fatal(err)
	}
	e := NewExporter(addr, 5*time.Second, testSettings, nil, logger)
	defer e.Close()
	fams := gather(t, e)
	page := exposition(t, fams)
	mu.Lock()
	defer mu.Unlock()
	return fams, page, buf.String()
}

func success(fams []*dto.MetricFamily, coll string) float64 {
	v, ok := sampleValue(fams, "kamailio_scrape_collector_success", map[string]string{"collector": coll})
	if !ok {
		return -1
	}
	return v
}

// The registration to the test Kamailio's own registrar is registered, the
// one to a port where nothing answers is not and is retried; the flags are
// decoded bit by bit.
func TestUACRegDump(t *testing.T) {
	fams := gather(t, newTestExporter(t, replay(t, "unix", nil), 5*time.Second))
	if v := success(fams, "uac.reg_dump"); v != 1 {
		t.Fatalf("uac.reg_dump success = %v", v)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kamailio_uac_registration_registered", map[string]string{"l_uuid": "trunk_ok", "r_domain": "127.0.0.3:5060"}, 1},
		{"kamailio_uac_registration_registered", map[string]string{"l_uuid": "trunk_dead", "r_domain": "127.0.0.3:5097"}, 0},
		{"kamailio_uac_registration_flag", map[string]string{"l_uuid": "trunk_ok", "flag": "registered"}, 1},
		{"kamailio_uac_registration_flag", map[string]string{"l_uuid": "trunk_ok", "flag": "in_progress"}, 0},
		{"kamailio_uac_registration_flag", map[string]string{"l_uuid": "trunk_dead", "flag": "in_progress"}, 1}, // flags 18
		{"kamailio_uac_registration_flag", map[string]string{"l_uuid": "trunk_dead", "flag": "initialized"}, 1},
		{"kamailio_uac_registration_flag", map[string]string{"l_uuid": "trunk_dead", "flag": "disabled"}, 0},
		{"kamailio_uac_registration_timer_seconds", map[string]string{"l_uuid": "trunk_ok"}, 3470},
	} {
		if v, ok := sampleValue(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v %v, want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if n := familyLen(fams, "kamailio_uac_registration_flag"); n != 2*5 {
		t.Errorf("%d flag series, want 5 per registration", n)
	}
}

func TestUACFlagBits(t *testing.T) {
	for flags, want := range map[int64][]string{
		0:  nil,
		1:  {"disabled"},
		2:  {"in_progress"},
		4:  {"registered"},
		8:  {"auth_sent"},
		16: {"initialized"},
		26: {"in_progress", "auth_sent", "initialized"},
	} {
		reg := binrpc.Struct(binrpc.Named("l_uuid", binrpc.String("u")), binrpc.Named("r_domain", binrpc.String("d")),
			binrpc.Named("flags", binrpc.Int(flags)), binrpc.Named("diff_expires", binrpc.Int(-3)))
		fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
			"uac.reg_dump": {Values: []binrpc.Value{reg}},
		}), 5*time.Second))
		for _, f := range uacFlags {
			on := 0.0
			for _, w := range want {
				if w == f.name {
					on = 1
				}
			}
			if v, ok := sampleValue(fams, "kamailio_uac_registration_flag", map[string]string{"flag": f.name}); !ok || v != on {
				t.Errorf("flags %d: %s = %v %v, want %v", flags, f.name, v, ok, on)
			}
		}
		registered, _ := sampleValue(fams, "kamailio_uac_registration_registered", nil)
		if registered != b2f(flags&4 != 0) {
			t.Errorf("flags %d: registered = %v", flags, registered)
		}
		if v, _ := sampleValue(fams, "kamailio_uac_registration_timer_seconds", nil); v != -3 {
			t.Errorf("timer = %v, want -3 (overdue)", v)
		}
	}
}

// uac without reg_db_url: no registrations, not a failure.
func TestUACNotEnabled(t *testing.T) {
	fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
		"uac.reg_dump": {Fault: &binrpc.FaultError{Code: 500, Message: "Not enabled"}},
	}), 5*time.Second))
	if v := success(fams, "uac.reg_dump"); v != 1 {
		t.Errorf("success = %v, want 1", v)
	}
	if n := familyLen(fams, "kamailio_uac_registration_registered"); n != 0 {
		t.Errorf("%d registrations", n)
	}
}

// uac.reg_dump carries each registration's auth_password and auth_ha1:
// neither may appear in the exposition or the log (at debug level), with a
// good reply or with replies the collector rejects.
func TestUACCredentialsNeverExported(t *testing.T) {
	for _, release := range releases(t) {
		if _, ok := loadRelease(t, release)["uac.reg_dump"]; !ok {
			continue
		}
		regs := recordedValues(t, release, "uac.reg_dump")
		var secrets []string
		for _, r := range regs {
			for _, k := range []string{"auth_password", "auth_ha1"} {
				if v, err := text(r, k); err == nil && v != "none" && v != "" {
					secrets = append(secrets, v)
				}
			}
		}
		if len(secrets) < 2 {
			t.Fatalf("%s: the recording should hold a password and an HA1, found %d", release, len(secrets))
		}
		// Broken variants: every member but the credentials turned into an
		// unexpected kind, one at a time, and the credentials in odd places.
		variants := map[string][]binrpc.Value{"recorded": regs}
		for i, m := range regs[0].Members {
			if m.Name == "auth_password" || m.Name == "auth_ha1" {
				continue
			}
			broken := clone(regs)
			broken[0].Members[i].Value = binrpc.Struct(binrpc.Named("x", binrpc.String(secrets[0])))
			variants["struct in "+m.Name] = broken
			missing := clone(regs)
			missing[0].Members = append(missing[0].Members[:i:i], missing[0].Members[i+1:]...)
			variants["no "+m.Name] = missing
		}
		variants["a credential as flags"] = withMember(clone(regs), "flags", binrpc.String(secrets[0]))
		variants["a credential as l_uuid of a non-struct"] = append(clone(regs), binrpc.String(secrets[0]))
		for name, vals := range variants {
			t.Run(release+"/"+name, func(t *testing.T) {
				fams, page, log := scrapeLogged(t, replayRelease(t, release, "unix", map[string]fakectl.Response{
					"uac.reg_dump": {Values: vals},
				}))
				if name == "recorded" && success(fams, "uac.reg_dump") != 1 {
					t.Fatalf("uac.reg_dump failed on its recording:\n%s", log)
				}
				for _, secret := range secrets {
					if strings.Contains(page, secret) {
						t.Errorf("the exposition contains the credential %q", secret)
					}
					if strings.Contains(log, secret) {
						t.Errorf("the log contains the credential %q:\n%s", secret, log)
					}
				}
			})
		}
	}
}

func clone(vals []binrpc.Value) []binrpc.Value {
	out := make([]binrpc.Value, len(vals))
	for i, v := range vals {
		out[i] = v
		if v.Members != nil {
			out[i].Members = append([]binrpc.Member(nil), v.Members...)
		}
	}
	return out
}

func withMember(vals []binrpc.Value, name string, v binrpc.Value) []binrpc.Value {
	for i, m := range vals[0].Members {
		if m.Name == name {
			vals[0].Members[i].Value = v
		}
	}
	return vals
}
