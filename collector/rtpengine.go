package collector

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var rtpengineEnabledDesc = newDesc(namespace+"_rtpengine_enabled",
	"rtpengine connection status", prometheus.GaugeValue, "url", "set", "index", "weight")

// rtpengine.show all: one struct per node {url, set, index, weight,
// disabled, active, recheck_ticks}. A node counts as enabled only when it is
// neither disabled nor inactive (a failed node waiting for its re-check has
// disabled=0 but active=0). No sets loaded (fault 404) is an empty result.
func updateRtpengineShow(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	nodes, err := c.CallEncoded(ctx, "rtpengine.show", "all")
	var f *binrpc.FaultError
	if binrpc.IsFault(err, 404, "") && errors.As(err, &f) && strings.Contains(strings.ToLower(f.Message), "no sets") {
		return nil
	}
	if err != nil {
		return err
	}
	p := newPicker()
	labelSlots := []slot{p.key("url"), p.key("set"), p.key("index"), p.key("weight")}
	disabledSlot, activeSlot := p.key("disabled"), p.key("active")
	labels := make([]string, len(labelSlots))
	return eachStruct("rtpengine.show", nodes, func(n binrpc.Value) error {
		if err := p.pick(n); err != nil {
			return err
		}
		var err error
		for i, k := range labelSlots {
			if labels[i], err = p.text(k); err != nil {
				return err
			}
		}
		disabled, err := p.number(disabledSlot)
		if err != nil {
			return err
		}
		enabled := disabled == 0
		if active, err := p.number(activeSlot); err == nil && active == 0 { // 6.x only
			enabled = false
		}
		s.Add(rtpengineEnabledDesc, b2f(enabled), labels...)
		return nil
	})
}
