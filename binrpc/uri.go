package binrpc

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is ctl's default port for tcp and udp listeners.
const DefaultPort = 2049

// Address is a parsed BINRPC URI: a Go network name ("unix", "unixgram",
// "tcp", "udp") and its address.
type Address struct {
	Network string
	Addr    string
}

func (a Address) String() string {
	switch a.Network {
	case "unix", "unixgram":
		scheme := "unix:"
		if a.Network == "unixgram" {
			scheme = "unixd:"
		}
		if strings.HasPrefix(a.Addr, "/") {
			return scheme + "//" + a.Addr
		}
		return scheme + a.Addr
	}
	return a.Network + "://" + a.Addr
}

// Stream reports whether the transport is a byte stream.
func (a Address) Stream() bool { return a.Network == "unix" || a.Network == "tcp" }

// ParseURI parses the BINRPC URI forms accepted by the exporter:
//
//	unix:///path, unix:/path, unix:path, unixs:... (unix stream; ctl's "unixs")
//	unixd:///path, unixd:/path (unix datagram)
//	tcp://host:port, tcp:host:port, udp://host:port, udp:host:port
//
// The port defaults to ctl's 2049. IPv6 hosts are written in brackets; a
// host that is not a name, an IPv4 address or a bracketed IPv6 address is an
// error (no guess is made at "[::1" or "::1").
func ParseURI(uri string) (Address, error) {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok || rest == "" {
		return Address{}, fmt.Errorf("BINRPC URI %q: want scheme:address, e.g. unix:///var/run/kamailio/kamailio_ctl or tcp://127.0.0.1:2049", uri)
	}
	switch strings.ToLower(scheme) {
	case "unix", "unixs", "unixd":
		path := rest
		if strings.HasPrefix(path, "//") {
			// unix://host/path is not meaningful: require an empty host.
			path = path[2:]
			if !strings.HasPrefix(path, "/") {
				return Address{}, fmt.Errorf("BINRPC URI %q: unix socket URIs take no host; use unix:///path", uri)
			}
		}
		if path == "" || strings.ContainsRune(path, 0) {
			return Address{}, fmt.Errorf("BINRPC URI %q: empty or invalid socket path", uri)
		}
		if strings.EqualFold(scheme, "unixd") {
			return Address{Network: "unixgram", Addr: path}, nil
		}
		return Address{Network: "unix", Addr: path}, nil
	case "tcp", "udp":
		hostport := strings.TrimPrefix(rest, "//")
		hostport = strings.TrimSuffix(hostport, "/")
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			// No port given: use ctl's default. What is left must be a
			// host alone: a name, an IPv4 address or a bracketed IPv6
			// address ("[::1" and "::1" are not).
			host, port, err = net.SplitHostPort(hostport + ":" + strconv.Itoa(DefaultPort))
			if err != nil {
				return Address{}, fmt.Errorf("BINRPC URI %q: invalid host %q: want host, host:port, [IPv6] or [IPv6]:port", uri, hostport)
			}
		}
		if host == "" || strings.ContainsAny(host, "/?#@ []") {
			return Address{}, fmt.Errorf("BINRPC URI %q: missing or invalid host", uri)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return Address{}, fmt.Errorf("BINRPC URI %q: invalid port %q", uri, port)
		}
		return Address{Network: strings.ToLower(scheme), Addr: net.JoinHostPort(host, port)}, nil
	}
	return Address{}, fmt.Errorf("BINRPC URI %q: unsupported scheme %q (want unix, unixd, tcp or udp)", uri, scheme)
}
