package collector

import (
	"context"
	"fmt"

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
	// Also filled by tls.info: one family, one HELP (the reference exporter
	// declared it twice and failed every scrape when tls was loaded).
	tlsMaxConnectionsDesc = sharedDesc(newDesc(namespace+"_tls_max_connections",
		"TLS connection limit", prometheus.GaugeValue))
	tlsConnectionsDesc = newDesc(namespace+"_tls_connections",
		"Opened TLS connections", prometheus.GaugeValue)
)

// core.psa: one struct per process {index, pid, status, rank, description}.
func updateCorePSA(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	vals, err := c.Call(ctx, "core.psa")
	if err != nil {
		return err
	}
	procs, err := structs("core.psa", vals)
	if err != nil {
		return err
	}
	for _, p := range procs {
		status, err := number(p, "status")
		if err != nil {
			return fmt.Errorf("core.psa: %w", err)
		}
		labels := make([]string, 4)
		for i, k := range []string{"index", "pid", "rank", "description"} {
			if labels[i], err = text(p, k); err != nil {
				return fmt.Errorf("core.psa: %w", err)
			}
		}
		s.Add(processStatusDesc, status, labels...)
	}
	return nil
}

// core.runinfo: {name, version, sourceid, compiler, compiled, …, uptime_secs}.
func updateCoreRuninfo(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "core.runinfo")
	if err != nil {
		return err
	}
	up, err := number(st, "uptime_secs")
	if err != nil {
		return fmt.Errorf("core.runinfo: %w", err)
	}
	labels := make([]string, 3)
	for i, k := range []string{"version", "compiled", "compiler"} {
		labels[i], _ = text(st, k) // absent build facts stay empty
	}
	s.Add(uptimeDesc, up, labels...)
	return nil
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
