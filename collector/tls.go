package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// Also filled by 6.x's stats.fetch (group tls): the first sample wins.
	tlsOpenedDesc = newDesc(namespace+"_tls_opened_connections",
		"TLS Opened Connections", prometheus.GaugeValue).MarkShared()
	tlsClearTextQueuedDesc = newDesc(namespace+"_tls_clear_text_write_queued_bytes",
		"Bytes of clear text queued in all TLS connections, waiting to be encrypted and sent (while a handshake is in progress).", prometheus.GaugeValue).MarkShared()
)

// tls.info: {max_connections, opened_connections, clear_text_write_queued_bytes}.
// max_connections shares kamailio_tls_max_connections with core.tcp_info;
// the scrape keeps one sample of it.
func updateTLSInfo(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	st, err := callStruct(ctx, c, "tls.info")
	if err != nil {
		return err
	}
	return addFields(s, st, []field{
		{"max_connections", tlsMaxConnectionsDesc},
		{"opened_connections", tlsOpenedDesc},
		{"clear_text_write_queued_bytes", tlsClearTextQueuedDesc},
	})
}
