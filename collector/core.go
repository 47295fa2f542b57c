package collector

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	processStatusDesc = newDesc(namespace+"_core_process_status",
		"Status of each process running in Kamailio", prometheus.GaugeValue, "index", "pid", "rank", "description")
	uptimeDesc = newDesc(namespace+"_core_uptime",
		"Uptime in seconds", prometheus.GaugeValue, "version", "compiled", "compiler")
	tcpReadersDesc = newDesc(namespace+"_tcp_readers",
		"TCP readers", prometheus.GaugeValue)
	tcpMaxConnectionsDesc = newDesc(namespace+"_tcp_max_connections",
		"TCP connection limit", prometheus.GaugeValue)
	tlsConnectionsDesc = newDesc(namespace+"_tls_connections",
		"Opened TLS connections", prometheus.GaugeValue)
)

// core.psa: one struct per process {index, pid, status, rank,
// description}, walked one process at a time.
func updateCorePSA(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	vals, err := c.CallEncoded(ctx, "core.psa")
	if err != nil {
		return err
	}
	p := newPicker()
	status := p.key("status")
	labelSlots := []slot{p.key("index"), p.key("pid"), p.key("rank"), p.key("description")}
	labels := make([]string, len(labelSlots))
	return eachStruct("core.psa", vals, func(proc binrpc.Value) error {
		if err := p.pick(proc); err != nil {
			return err
		}
		v, err := p.number(status)
		if err != nil {
			return err
		}
		for i, k := range labelSlots {
			if labels[i], err = p.text(k); err != nil {
				return err
			}
		}
		s.Add(processStatusDesc, v, labels...)
		return nil
	})
}

// core.runinfo: {name, version, sourceid, compiler, compiled, …, uptime_secs}.
// Kamailio 5.5 has no core.runinfo: there the uptime is core.uptime's
// {now, up_since, uptime} and the build labels are core.info's, whose
// version is "kamailio 5.5.4" where core.runinfo's is "5.5.4".
func updateCoreRuninfo(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	if !s.run.has("core.runinfo") {
		return updateUptimeFromInfo(ctx, c, s)
	}
	st, err := callStruct(ctx, c, "core.runinfo")
	if err != nil {
		return err
	}
	up, err := number(st, "uptime_secs")
	if err != nil {
		return fmt.Errorf("core.runinfo: %w", err)
	}
	s.Add(uptimeDesc, up, buildLabels(st)...)
	return nil
}

// runinfoCalls: core.runinfo, or where Kamailio lacks it core.uptime and
// core.info.
func runinfoCalls(_ *Settings, run *kamailioRun) []binrpc.Request {
	if run.has("core.runinfo") {
		return []binrpc.Request{{Method: "core.runinfo"}}
	}
	return []binrpc.Request{{Method: "core.uptime"}, {Method: "core.info"}}
}

// updateUptimeFromInfo is core.runinfo's series from core.uptime and
// core.info.
func updateUptimeFromInfo(ctx context.Context, c Caller, s *Sink) error {
	st, err := callStruct(ctx, c, "core.uptime")
	if err != nil {
		return err
	}
	up, err := number(st, "uptime")
	if err != nil {
		return fmt.Errorf("core.uptime: %w", err)
	}
	info, err := callStruct(ctx, c, "core.info")
	if err != nil {
		return err
	}
	labels := buildLabels(info)
	// "kamailio 5.5.4": the name, then the version.
	if _, v, ok := strings.Cut(labels[0], " "); ok {
		labels[0] = v
	}
	s.Add(uptimeDesc, up, labels...)
	return nil
}

// buildLabels returns the version, compiled and compiler members of st,
// uptimeDesc's labels; an absent build fact stays empty.
func buildLabels(st binrpc.Value) []string {
	labels := make([]string, 3)
	for i, k := range []string{"version", "compiled", "compiler"} {
		labels[i], _ = text(st, k)
	}
	return labels
}

// core.tcp_info: {readers, max_connections, max_tls_connections,
// opened_connections, opened_tls_connections, write_queued_bytes}.
// Kamailio without TCP answers with a fault: no series, no failure.
func updateCoreTCPInfo(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "core.tcp_info")
	if binrpc.IsFault(err, 500, "tcp support disabled") || binrpc.IsFault(err, 500, "tcp support not compiled") {
		return nil
	}
	if err != nil {
		return err
	}
	return addFields(s, st, []field{
		{"readers", tcpReadersDesc},
		{"max_connections", tcpMaxConnectionsDesc},
		{"max_tls_connections", tlsMaxConnectionsDesc},
		{"opened_tls_connections", tlsConnectionsDesc},
	})
}

var buildInfoDesc = newDesc(namespace+"_build_info",
	"Kamailio's version and build, from core.info; constant 1.", prometheus.GaugeValue,
	"version", "sourceid", "compiler", "compiled", "flags")

// core.info: {version, id, compiler, compiled, flags}.
func updateCoreInfo(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "core.info")
	if err != nil {
		return err
	}
	labels := make([]string, 5)
	for i, k := range []string{"version", "id", "compiler", "compiled", "flags"} {
		v, _ := text(st, k) // absent build facts stay empty
		labels[i] = strings.TrimSpace(v)
	}
	if labels[0] == "" {
		return fmt.Errorf("core.info: no version")
	}
	s.Add(buildInfoDesc, 1, labels...)
	return nil
}

// core.shmmem: {total, free, used, real_used, max_used, fragments}. It
// fills the same families as stats.fetch's shmem group; a scrape keeps
// one sample per series, so it matters only when stats.fetch is disabled
// or lacks the shmem statistics. Kamailio 5.6 sends the sizes as 32-bit
// ints, cut to their low 32 bits (a 5 GB pool's total reads 0.95 GB); 5.8
// and later send them whole. After an int reply, the sizes are asked in
// KiB ("core.shmmem k"), which fit, until Kamailio restarts.
func updateCoreShmmem(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	req := shmmemCalls(nil, s.run)[0]
	st, err := callStruct(ctx, c, req.Method, req.Args...)
	if err != nil {
		return err
	}
	unit := 1.0
	if len(req.Args) > 0 {
		unit = 1024
	} else if v, ok := st.Get("total"); ok && v.Kind == binrpc.KindInt {
		s.run.learn(shmmemInts)
		if st, err = callStruct(ctx, c, "core.shmmem", "k"); err != nil {
			return err
		}
		unit = 1024
	}
	for _, k := range []string{"total", "free", "used", "real_used", "max_used"} {
		v, err := number(st, k)
		if err != nil {
			return fmt.Errorf("core.shmmem: %w", err)
		}
		s.Add(shmBytesDesc, v*unit, k)
	}
	if err := addFields(s, st, []field{{"fragments", shmFragmentsDesc}}); err != nil {
		return fmt.Errorf("core.shmmem: %w", err)
	}
	return nil
}

// shmmemInts is learned from a core.shmmem reply with 32-bit sizes.
const shmmemInts = "core.shmmem: 32-bit sizes"

// shmmemCalls is core.shmmem's request in run.
func shmmemCalls(_ *Settings, run *kamailioRun) []binrpc.Request {
	if run.knows(shmmemInts) {
		return []binrpc.Request{{Method: "core.shmmem", Args: []any{"k"}}}
	}
	return []binrpc.Request{{Method: "core.shmmem"}}
}
