package collector

import (
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

const never = "Thu Jan  1 00:00:00 1970\n"

func kaDest(uri string, state int64, checked, up, down string) binrpc.Value {
	return binrpc.Struct(binrpc.Named("uri", binrpc.String(uri)), binrpc.Named("owner", binrpc.String("_params")),
		binrpc.Named("last checked", binrpc.String(checked)), binrpc.Named("last up", binrpc.String(up)),
		binrpc.Named("last down", binrpc.String(down)), binrpc.Named("state", binrpc.Int(state)))
}

// uptimeAt is the recorded core.uptime with its now member set to now, or
// without it when now is "".
func uptimeAt(t *testing.T, now string) fakectl.Response {
	t.Helper()
	st := recordedValues(t, defaultRelease, "core.uptime")[0]
	var members []binrpc.Member
	for _, m := range st.Members {
		if m.Name == "now" {
			if now == "" {
				continue
			}
			m.Value = binrpc.String(now)
		}
		members = append(members, m)
	}
	st.Members = members
	return fakectl.Response{Values: []binrpc.Value{st}}
}

// The live destination is up, the dead one down, on the recordings of every
// release (5.5 to 5.7 write "last up" and "last down" under each other's
// names): the same series.
func TestKeepaliveList(t *testing.T) {
	eachRelease(t, checkKeepaliveRecording)
}

// checkKeepaliveRecording: 5.6.3's reply has the up destination's "last up"
// at the epoch and its "last down" at the time of its last 2xx; 6.1.4's has
// them right. Both read alike.
func checkKeepaliveRecording(t *testing.T, release string) {
	fams := gather(t, newTestExporter(t, replayRelease(t, release, "unix", nil), 5*time.Second))
	if v := success(fams, "keepalive.list"); v != 1 {
		t.Fatalf("success = %v", v)
	}
	for uri, state := range map[string]string{"sip:127.0.0.3:5060": "up", "sip:127.0.0.3:5098": "down"} {
		for _, st := range kaStates {
			v, ok := sampleValue(fams, "kamailio_keepalive_destination_state", map[string]string{"uri": uri, "state": st})
			if !ok || v != b2f(st == state) {
				t.Errorf("%s state %s = %v %v", uri, st, v, ok)
			}
		}
	}
	if _, ok := sampleValue(fams, "kamailio_keepalive_destination_last_down_age_seconds", map[string]string{"uri": "sip:127.0.0.3:5060"}); ok {
		t.Errorf("the live destination never failed, yet has a last down age")
	}
	if _, ok := sampleValue(fams, "kamailio_keepalive_destination_last_up_age_seconds", map[string]string{"uri": "sip:127.0.0.3:5098"}); ok {
		t.Errorf("the dead destination never answered, yet has a last up age")
	}
	for _, f := range []string{"kamailio_keepalive_destination_last_up_age_seconds", "kamailio_keepalive_destination_last_down_age_seconds"} {
		if n := familyLen(fams, f); n != 1 {
			t.Errorf("%s: %d series, want 1", f, n)
		}
	}
	// keepalive pings every few seconds, and core.uptime was recorded with
	// keepalive.list: every age is a few seconds.
	for _, f := range []string{"kamailio_keepalive_destination_last_up_age_seconds",
		"kamailio_keepalive_destination_last_down_age_seconds", "kamailio_keepalive_destination_last_check_age_seconds"} {
		for _, m := range family(fams, f).GetMetric() {
			if v := m.GetGauge().GetValue(); v < 0 || v > 30 {
				t.Errorf("%s %v = %v, want 0 to 30 s", f, m.GetLabel(), v)
			}
		}
	}
}

// Replies as 5.6 and as later releases write them give the same ages,
// counted from core.uptime's now; the epoch means never.
func TestKeepaliveSyntheticReplies(t *testing.T) {
	now := "Thu Nov 26 10:00:00 2026"
	for name, dests := range map[string][]binrpc.Value{
		"as 5.8 to 6.1 write it": {
			kaDest("sip:a", 1, "Thu Nov 26 09:59:58 2026\n", "Thu Nov 26 09:59:58 2026\n", "Thu Nov 26 09:00:00 2026\n"),
			kaDest("sip:b", 2, "Thu Nov 26 09:59:59 2026\n", "Thu Nov 26 08:00:00 2026\n", "Thu Nov 26 09:59:59 2026\n"),
			kaDest("sip:c", 0, never, never, never),
		},
		"as 5.6 writes it": {
			kaDest("sip:a", 1, "Thu Nov 26 09:59:58 2026\n", "Thu Nov 26 09:00:00 2026\n", "Thu Nov 26 09:59:58 2026\n"),
			kaDest("sip:b", 2, "Thu Nov 26 09:59:59 2026\n", "Thu Nov 26 09:59:59 2026\n", "Thu Nov 26 08:00:00 2026\n"),
			kaDest("sip:c", 0, never, never, never),
		},
	} {
		t.Run(name, func(t *testing.T) {
			fams := gather(t, newTestExporter(t, replay(t, "unix", map[string]fakectl.Response{
				"keepalive.list": {Values: dests},
				"core.uptime":    uptimeAt(t, now),
			}), 5*time.Second))
			for _, c := range []struct {
				family, uri string
				want        float64 // -1: absent
			}{
				{"kamailio_keepalive_destination_last_check_age_seconds", "sip:a", 2},
				{"kamailio_keepalive_destination_last_up_age_seconds", "sip:a", 2},
				{"kamailio_keepalive_destination_last_down_age_seconds", "sip:a", 3600},
				{"kamailio_keepalive_destination_last_up_age_seconds", "sip:b", 7200},
				{"kamailio_keepalive_destination_last_down_age_seconds", "sip:b", 1},
				{"kamailio_keepalive_destination_last_check_age_seconds", "sip:c", -1},
				{"kamailio_keepalive_destination_last_up_age_seconds", "sip:c", -1},
				{"kamailio_keepalive_destination_last_down_age_seconds", "sip:c", -1},
			} {
				v, ok := sampleValue(fams, c.family, map[string]string{"uri": c.uri})
				if c.want < 0 && ok || c.want >= 0 && (!ok || v != c.want) {
					t.Errorf("%s{uri=%q} = %v %v, want %v", c.family, c.uri, v, ok, c.want)
				}
			}
			if v, _ := sampleValue(fams, "kamailio_keepalive_destination_state", map[string]string{"uri": "sip:c", "state": "unknown"}); v != 1 {
				t.Errorf("sip:c unknown = %v", v)
			}
		})
	}
}

func TestKeepaliveBadDates(t *testing.T) {
	for name, override := range map[string]map[string]fakectl.Response{
		"bad last up": {"keepalive.list": {Values: []binrpc.Value{kaDest("sip:a", 1, never, "yesterday", never)}}},
		"bad now":     {"core.uptime": uptimeAt(t, "now")},
		"no now":      {"core.uptime": uptimeAt(t, "")},
	} {
		t.Run(name, func(t *testing.T) {
			collectorFails(t, override, "keepalive.list", "kamailio_keepalive_destination_state")
		})
	}
}
