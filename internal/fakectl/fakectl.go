// Package fakectl is an in-process BINRPC server speaking the framing of
// Kamailio's ctl module (reply and fault packet types included), for tests.
// It answers from a Handler, replays recorded replies, and can inject
// faults: delays, silence, truncation, garbage, wrong cookies.
package fakectl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// Request is a decoded request.
type Request struct {
	Method string
	Args   []binrpc.Value
	Cookie uint32
}

// Response says how to answer a request. With Raw set, those bytes are
// sent as they are; otherwise a reply (or, with Fault set, a fault) packet
// carrying Values is built for the request's cookie.
type Response struct {
	Values []binrpc.Value
	Fault  *binrpc.FaultError
	Raw    []byte
	// Recorded, when set, is sent as a reply of its type to the request's
	// cookie.
	Recorded *Recording
	// Delay waits before answering; Silent never answers; Close closes
	// the connection (after sending Raw, if any).
	Delay  time.Duration
	Silent bool
	Close  bool
}

// Handler answers one request.
type Handler func(Request) Response

// Server is a running fake ctl listener.
type Server struct {
	Network string
	Addr    string
	handler Handler

	ln   net.Listener
	pc   net.PacketConn
	dir  string
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	calls   map[string]int
	accepts int
}

// Start listens on network ("unix", "unixgram", "tcp", "udp"): unix sockets
// in a fresh temporary directory, tcp and udp on 127.0.0.1 with a free port.
func Start(network string, h Handler) (*Server, error) {
	s := &Server{Network: network, handler: h, done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, calls: map[string]int{}}
	var err error
	switch network {
	case "unix", "unixgram":
		if s.dir, err = os.MkdirTemp("", "fakectl-"); err != nil {
			return nil, err
		}
		s.Addr = filepath.Join(s.dir, "ctl")
	case "tcp", "udp":
		s.Addr = "127.0.0.1:0"
	default:
		return nil, fmt.Errorf("fakectl: unsupported network %q", network)
	}
	switch network {
	case "unix", "tcp":
		if s.ln, err = net.Listen(network, s.Addr); err == nil {
			s.Addr = s.ln.Addr().String()
			s.wg.Add(1)
			go s.acceptLoop()
		}
	default:
		if s.pc, err = net.ListenPacket(network, s.Addr); err == nil {
			s.Addr = s.pc.LocalAddr().String()
			s.wg.Add(1)
			go s.packetLoop()
		}
	}
	if err != nil {
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
		return nil, err
	}
	return s, nil
}

// URI returns the BINRPC URI of the server.
func (s *Server) URI() string {
	switch s.Network {
	case "unix":
		return "unix://" + s.Addr
	case "unixgram":
		return "unixd://" + s.Addr
	}
	return s.Network + "://" + s.Addr
}

// Calls returns how many requests for method the server received.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Accepts returns how many stream connections the server accepted.
func (s *Server) Accepts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts
}

// DropConns closes every open stream connection, as a restarted Kamailio
// would have.
func (s *Server) DropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	close(s.done)
	if s.ln != nil {
		s.ln.Close()
	}
	if s.pc != nil {
		s.pc.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.accepts++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveStream(c)
		}()
	}
}

// ReadFrame reads one packet from a stream: its header and its payload
// (at most 1 MiB).
func ReadFrame(r io.Reader) (binrpc.Header, []byte, error) {
	h, err := binrpc.ReadHeader(r, 1<<20)
	if err != nil {
		return binrpc.Header{}, nil, err
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return binrpc.Header{}, nil, err
	}
	return h, payload, nil
}

func (s *Server) serveStream(c net.Conn) {
	for {
		h, payload, err := ReadFrame(c)
		if err != nil {
			return
		}
		out, closeConn, ok := s.answer(h, payload)
		if !ok {
			continue
		}
		if len(out) > 0 {
			if _, err := out.WriteTo(c); err != nil {
				return
			}
		}
		if closeConn {
			return
		}
	}
}

func (s *Server) packetLoop() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		h, hl, err := binrpc.ParseHeader(buf[:n], 1<<20)
		if err != nil || hl+h.Length > n {
			continue
		}
		out, _, ok := s.answer(h, buf[hl:hl+h.Length])
		if ok && len(out) > 0 {
			s.pc.WriteTo(bytes.Join(out, nil), from)
		}
	}
}

// answer builds the bytes to send; ok is false when nothing is to be sent.
func (s *Server) answer(h binrpc.Header, payload []byte) (out net.Buffers, closeConn, ok bool) {
	vals, err := binrpc.DecodePayload(payload)
	if err != nil || len(vals) == 0 || vals[0].Kind != binrpc.KindString {
		return net.Buffers{Packet(binrpc.TypeFault, h.Cookie, binrpc.Int(400), binrpc.String("bad request"))}, false, true
	}
	req := Request{Method: vals[0].Str, Args: vals[1:], Cookie: h.Cookie}
	s.mu.Lock()
	s.calls[req.Method]++
	s.mu.Unlock()
	resp := s.handler(req)
	if resp.Delay > 0 {
		select {
		case <-time.After(resp.Delay):
		case <-s.done:
			return nil, true, false
		}
	}
	if resp.Silent {
		select {
		case <-s.done:
		case <-time.After(time.Minute):
		}
		return nil, true, false
	}
	switch {
	case resp.Raw != nil:
		out = net.Buffers{resp.Raw}
	case resp.Recorded != nil:
		// Header and payload are written as they are: no copy of a large
		// reply per request.
		r := resp.Recorded
		out = net.Buffers{binrpc.AppendHeader(nil, r.Type, len(r.Payload), h.Cookie), r.Payload}
	case resp.Fault != nil:
		out = net.Buffers{Packet(binrpc.TypeFault, h.Cookie, binrpc.Int(int64(resp.Fault.Code)), binrpc.String(resp.Fault.Message))}
	default:
		out = net.Buffers{Packet(binrpc.TypeReply, h.Cookie, resp.Values...)}
	}
	return out, resp.Close, true
}

// Packet encodes a packet of type t with the given values.
func Packet(t binrpc.PacketType, cookie uint32, vals ...binrpc.Value) []byte {
	var payload []byte
	for _, v := range vals {
		var err error
		if payload, err = binrpc.AppendValue(payload, v); err != nil {
			panic(err) // test values are always encodable
		}
	}
	return append(binrpc.AppendHeader(nil, t, len(payload), cookie), payload...)
}

// Recording is a reply recorded from a real Kamailio: its packet type and
// raw payload.
type Recording struct {
	Type    binrpc.PacketType
	Payload []byte
}

// ReadRecording loads a recorded packet (header and payload as Kamailio
// sent them).
func ReadRecording(path string) (Recording, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Recording{}, err
	}
	h, n, err := binrpc.ParseHeader(b, 0)
	if err != nil {
		return Recording{}, fmt.Errorf("%s: %w", path, err)
	}
	if n+h.Length != len(b) {
		return Recording{}, fmt.Errorf("%s: %w: %d bytes, header says %d", path, errors.New("bad recording"), len(b), n+h.Length)
	}
	return Recording{Type: h.Type, Payload: b[n:]}, nil
}

// Replay answers with the recorded packet, re-addressed to cookie.
func (r Recording) Replay(cookie uint32) []byte {
	return append(binrpc.AppendHeader(nil, r.Type, len(r.Payload), cookie), r.Payload...)
}
