package collector

import "context"

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
