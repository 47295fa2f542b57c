package collector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

var (
	kaLabels    = []string{"uri", "owner"}
	kaStateDesc = newDesc(namespace+"_keepalive_destination_state",
		"State of a keepalive destination, one series per state (1 for the current one): unknown (not answered yet), up (its last OPTIONS got a 2xx), down.",
		prometheus.GaugeValue, "uri", "owner", "state")
	kaLastUpDesc = newDesc(namespace+"_keepalive_destination_last_up_age_seconds",
		"Seconds since a keepalive destination last answered its OPTIONS with a 2xx (absent if it never did).",
		prometheus.GaugeValue, kaLabels...)
	kaLastDownDesc = newDesc(namespace+"_keepalive_destination_last_down_age_seconds",
		"Seconds since a keepalive destination last failed its OPTIONS (absent if it never did).",
		prometheus.GaugeValue, kaLabels...)
	kaLastCheckDesc = newDesc(namespace+"_keepalive_destination_last_check_age_seconds",
		"Seconds since the last OPTIONS was sent to a keepalive destination.",
		prometheus.GaugeValue, kaLabels...)

	kaStates = []string{"unknown", "up", "down"} // keepalive's ka_state 0, 1, 2
)

// keepalive.list: one struct per destination {uri, owner, "last checked",
// "last up", "last down" (ctime strings in Kamailio's local time; the
// epoch for never), state (0 unknown, 1 up, 2 down)}.
//
// The ages are counted from core.uptime's now, a ctime string in the same
// time zone, so that neither the time zone nor the exporter's clock matter
// (core.uptime is in every release; core.runinfo, from 5.6 on, is not).
// The last answer sets the state, so the later of "last up" and "last down"
// is the answer of the current state's kind: Kamailio 5.5 to 5.7 write each
// under the other's name, and this reads every release alike.
// keepaliveCalls: keepalive.list, and core.uptime for Kamailio's clock.
func keepaliveCalls(*Settings, *kamailioRun) []binrpc.Request {
	return []binrpc.Request{{Method: "keepalive.list"}, {Method: "core.uptime"}}
}

func updateKeepaliveList(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	dests, err := c.CallEncoded(ctx, "keepalive.list")
	if err != nil {
		return err
	}
	// Taken even without destinations: it was sent (keepaliveCalls).
	clock, err := callStruct(ctx, c, "core.uptime")
	if err != nil {
		return err
	}
	if len(dests) == 0 {
		return nil
	}
	nowText, err := text(clock, "now")
	if err != nil {
		return fmt.Errorf("core.uptime: %w", err)
	}
	now, ok := parseCtime(nowText)
	if !ok {
		return fmt.Errorf("core.uptime: now %q is not a date", nowText)
	}
	p := newPicker()
	uriSlot, ownerSlot, stateSlot := p.key("uri"), p.key("owner"), p.key("state")
	timeSlots := []slot{p.key("last checked"), p.key("last up"), p.key("last down")}
	return eachStruct("keepalive.list", dests, func(d binrpc.Value) error {
		if err := p.pick(d); err != nil {
			return err
		}
		uri, err := p.text(uriSlot)
		if err != nil {
			return err
		}
		owner, _ := p.text(ownerSlot)
		state, err := p.number(stateSlot)
		if err != nil {
			return fmt.Errorf("%s: %w", uri, err)
		}
		for i, st := range kaStates {
			s.Add(kaStateDesc, b2f(int(state) == i), uri, owner, st)
		}
		var times [3]time.Time // last checked, last up, last down
		for i, k := range timeSlots {
			v, err := p.text(k)
			if err != nil {
				return fmt.Errorf("%s: %w", uri, err)
			}
			if times[i], ok = parseCtime(v); !ok {
				return fmt.Errorf("%s: %s %q is not a date", uri, p.keys[k], v)
			}
		}
		lastUp, lastDown := times[1], times[2]
		later, earlier := lastUp, lastDown
		if later.Before(earlier) {
			later, earlier = earlier, later
		}
		switch int(state) {
		case 1:
			lastUp, lastDown = later, earlier
		case 2:
			lastUp, lastDown = earlier, later
		}
		for _, a := range []struct {
			t    time.Time
			desc *page.Desc
		}{{times[0], kaLastCheckDesc}, {lastUp, kaLastUpDesc}, {lastDown, kaLastDownDesc}} {
			if a.t.Year() > 1970 { // ctime of 0: never
				s.Add(a.desc, now.Sub(a.t).Seconds(), uri, owner)
			}
		}
		return nil
	})
}

// parseCtime parses a date as C's ctime writes it ("Thu Nov 26 04:13:25
// 2026\n"), as if it were UTC.
func parseCtime(s string) (time.Time, bool) {
	t, err := time.Parse(time.ANSIC, strings.TrimSpace(s))
	return t, err == nil
}
