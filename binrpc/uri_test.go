package binrpc

import (
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri  string
		want Address
	}{
		{"unix:///var/run/kamailio/kamailio_ctl", Address{"unix", "/var/run/kamailio/kamailio_ctl"}},
		{"unix:/var/run/kamailio/kamailio_ctl", Address{"unix", "/var/run/kamailio/kamailio_ctl"}},
		{"unix:relative/ctl", Address{"unix", "relative/ctl"}},
		{"unixs:/tmp/ctl", Address{"unix", "/tmp/ctl"}},
		{"unixd:///tmp/ctl.dgram", Address{"unixgram", "/tmp/ctl.dgram"}},
		{"unixd:/tmp/ctl.dgram", Address{"unixgram", "/tmp/ctl.dgram"}},
		{"tcp://127.0.0.1:2046", Address{"tcp", "127.0.0.1:2046"}},
		{"tcp:127.0.0.1:2046", Address{"tcp", "127.0.0.1:2046"}},
		{"TCP://localhost:2046/", Address{"tcp", "localhost:2046"}},
		{"udp://127.0.0.1:2047", Address{"udp", "127.0.0.1:2047"}},
		{"udp://[::1]:2047", Address{"udp", "[::1]:2047"}},
		{"tcp://127.0.0.1", Address{"tcp", "127.0.0.1:2049"}},
		{"tcp://[::1]", Address{"tcp", "[::1]:2049"}},
	}
	for _, tt := range tests {
		got, err := ParseURI(tt.uri)
		if err != nil || got != tt.want {
			t.Errorf("ParseURI(%q) = %v, %v; want %v", tt.uri, got, err, tt.want)
		}
		if again, err := ParseURI(got.String()); err != nil || again != got {
			t.Errorf("ParseURI(%q) does not round-trip: %v %v", got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "/var/run/kamailio_ctl", "unix:", "unix://host/path", "http://x:1",
		"tcp://", "tcp://:2046", "tcp://host:0", "tcp://host:99999", "tcp://host:port", "udp://a b:1", "fifo:/tmp/x"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) accepted", bad)
		}
	}
}

// A malformed host is an error naming it, never a guess at what was meant.
func TestParseURIBadHosts(t *testing.T) {
	for _, tt := range []struct{ uri, want string }{
		{"tcp://[::1", `invalid host "[::1"`},
		{"udp://[::1", `invalid host "[::1"`},
		{"tcp://[::1/", `invalid host "[::1"`},
		{"tcp://::1", `invalid host "::1"`},
		{"tcp://fe80::1:2046", `invalid host "fe80::1:2046"`},
		{"tcp://[::1]]", `invalid host "[::1]]"`},
		{"tcp://[[::1]", `invalid host "[[::1]"`},
		{"tcp://host]", `invalid host "host]"`},
		{"tcp://[host", `invalid host "[host"`},
		{"tcp://[::1]]:2046", "invalid host"},
		{"tcp://[::1]x:2046", "invalid host"},
		{"tcp://[]", "missing or invalid host"},
		{"tcp://[]:2046", "missing or invalid host"},
		{"tcp://[::1]:", `invalid port ""`},
		{"tcp://[::1]:x", `invalid port "x"`},
	} {
		_, err := ParseURI(tt.uri)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURI(%q) = %v; want an error containing %q", tt.uri, err, tt.want)
		}
	}
}
