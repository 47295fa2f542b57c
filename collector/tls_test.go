package collector

import "testing"

// tls.info, alone (core.tcp_info fills kamailio_tls_max_connections first
// when it runs): the TLS limit, the opened connections and the clear text
// queued; every release answers alike.
func TestTLSInfo(t *testing.T) {
	const want = `
# HELP kamailio_tls_clear_text_write_queued_bytes Bytes of clear text queued in all TLS connections, waiting to be encrypted and sent (while a handshake is in progress).
# TYPE kamailio_tls_clear_text_write_queued_bytes gauge
kamailio_tls_clear_text_write_queued_bytes 0
# HELP kamailio_tls_max_connections TLS connection limit
# TYPE kamailio_tls_max_connections gauge
kamailio_tls_max_connections 2048
# HELP kamailio_tls_opened_connections TLS Opened Connections
# TYPE kamailio_tls_opened_connections gauge
kamailio_tls_opened_connections 0
`
	eachRelease(t, func(t *testing.T, release string) {
		compareCollector(t, release, "tls.info", want)
	})
}
