package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	dlgActiveFields = []field{
		{"starting", newDesc(namespace+"_dlg_stats_active_starting", "Dialog starting.", prometheus.GaugeValue)},
		{"connecting", newDesc(namespace+"_dlg_stats_active_connecting", "Dialog connecting.", prometheus.GaugeValue)},
		{"answering", newDesc(namespace+"_dlg_stats_active_answering", "Dialog answering.", prometheus.GaugeValue)},
		{"ongoing", newDesc(namespace+"_dlg_stats_active_ongoing", "Dialog ongoing.", prometheus.GaugeValue)},
		{"all", newDesc(namespace+"_dlg_stats_active_all", "Dialog all.", prometheus.GaugeValue)},
	}
	dlgProfileSizeDesc = newDesc(namespace+"_dlg_profile_get_size_dialog",
		"Current number of dialogs belonging to a profile.", prometheus.GaugeValue, "profile")
	dlgProfileFoundDesc = newDesc(namespace+"_dlg_profile_found",
		"kamailio_exporter: Whether Kamailio knows the dialog profile named in --collector.dialog.profiles (0: it answered \"not found\").", prometheus.GaugeValue, "profile")
)

// dlg.stats_active: struct {starting, connecting, answering, ongoing, all}.
func updateDlgStatsActive(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "dlg.stats_active")
	if err != nil {
		return err
	}
	if err := addFields(s, st, dlgActiveFields); err != nil {
		return fmt.Errorf("dlg.stats_active: %w", err)
	}
	return nil
}

// dlgProfileCalls are the requests of dlg.profile_get_size: one per
// profile, sent ahead together.
func dlgProfileCalls(cfg *Settings, _ *kamailioRun) []binrpc.Request {
	out := make([]binrpc.Request, len(cfg.DialogProfiles))
	for i, p := range cfg.DialogProfiles {
		out[i] = binrpc.Request{Method: "dlg.profile_get_size", Args: []any{p}}
	}
	return out
}

// dlg.profile_get_size PROFILE: one int. A profile Kamailio does not know
// (fault 404) has kamailio_dlg_profile_found 0 and no size, and is logged
// once per Kamailio run; the other profiles are still reported.
func updateDlgProfileSize(ctx context.Context, c Caller, cfg *Settings, s *Sink) error {
	for _, p := range cfg.DialogProfiles {
		vals, err := c.Call(ctx, "dlg.profile_get_size", p)
		if binrpc.IsFault(err, 404, "") {
			if s.run.learn("dialog profile not found\x00" + p) {
				s.logger.Error("dialog profile not found (logged once per Kamailio run; see kamailio_dlg_profile_found)",
					"collector", "dlg.profile_get_size", "profile", p, "err", err)
			}
			s.Add(dlgProfileFoundDesc, 0, p)
			continue
		}
		if err != nil {
			return err
		}
		if len(vals) != 1 || vals[0].Kind != binrpc.KindInt {
			return fmt.Errorf("dlg.profile_get_size %s: want one int, got %s", p, shape(vals))
		}
		s.Add(dlgProfileFoundDesc, 1, p)
		s.Add(dlgProfileSizeDesc, float64(vals[0].Int), p)
	}
	return nil
}
