package collector

import (
	"context"
	"errors"
	"fmt"
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
	nodes, err := callStructs(ctx, c, "rtpengine.show", "all")
	var f *binrpc.FaultError
	if binrpc.IsFault(err, 404, "") && errors.As(err, &f) && strings.Contains(strings.ToLower(f.Message), "no sets") {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range nodes {
		labels := make([]string, 4)
		for i, k := range []string{"url", "set", "index", "weight"} {
			if labels[i], err = text(n, k); err != nil {
				return fmt.Errorf("rtpengine.show: %w", err)
			}
		}
		disabled, err := number(n, "disabled")
		if err != nil {
			return fmt.Errorf("rtpengine.show: %w", err)
		}
		enabled := disabled == 0
		if active, err := number(n, "active"); err == nil && active == 0 {
			enabled = false
		}
		s.Add(rtpengineEnabledDesc, b2f(enabled), labels...)
	}
	return nil
}
