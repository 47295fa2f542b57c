package binrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	// DefaultMaxReplySize caps the payload of a reply read from a stream.
	// ctl's own limit (binrpc_max_body_size) defaults to 32 KiB.
	DefaultMaxReplySize = 16 << 20
	// maxUDPDatagram is the largest datagram ctl reads or UDP carries.
	maxUDPDatagram = 65535
	// maxUnixDatagram is the read buffer for unix datagram replies: ctl
	// sends a reply as one datagram of up to binrpc_max_body_size.
	maxUnixDatagram = 1 << 20
	// maxStaleReplies bounds how many datagrams with a foreign cookie (late
	// replies to earlier, timed-out requests) a call skips.
	maxStaleReplies = 16
)

// ErrClosed is returned by calls on a closed connection or on one that a
// previous I/O or framing error left unusable.
var ErrClosed = errors.New("BINRPC connection closed")

// Options tune a connection. The zero value is usable.
type Options struct {
	// MaxReplySize caps a reply's payload (default DefaultMaxReplySize).
	MaxReplySize int
	// KeepRaw keeps a copy of the last reply packet for LastReply (used to
	// record replies for tests).
	KeepRaw bool
}

// Conn is a BINRPC client connection. It carries any number of calls in
// sequence; concurrent calls are serialised.
type Conn struct {
	addr     Address
	c        net.Conn
	maxReply int
	localDir string // unix datagram: directory of our bound socket
	keepRaw  bool

	mu     sync.Mutex
	wbuf   []byte
	rbuf   []byte
	raw    []byte
	broken error
}

// LastReply returns the last reply packet (header and payload) as read,
// when the connection was dialled with KeepRaw.
func (c *Conn) LastReply() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw
}

// Dial connects to the ctl socket at addr. The context bounds the dial.
func Dial(ctx context.Context, addr Address, opts Options) (*Conn, error) {
	c := &Conn{addr: addr, maxReply: opts.MaxReplySize, keepRaw: opts.KeepRaw}
	if c.maxReply <= 0 {
		c.maxReply = DefaultMaxReplySize
	}
	var err error
	switch addr.Network {
	case "unix", "tcp", "udp":
		var d net.Dialer
		c.c, err = d.DialContext(ctx, addr.Network, addr.Addr)
	case "unixgram":
		c.c, err = c.dialUnixgram()
	default:
		err = fmt.Errorf("unsupported network %q", addr.Network)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// dialUnixgram binds a private socket for ctl's replies (a unix datagram
// reply goes to the sender's address, so the client must have one).
func (c *Conn) dialUnixgram() (net.Conn, error) {
	dir, err := os.MkdirTemp("", "kamailio_exporter-")
	if err != nil {
		return nil, err
	}
	// Kamailio usually runs as another user: let it reach our socket by its
	// (random, unlisted) name.
	if err := os.Chmod(dir, 0o711); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	local := filepath.Join(dir, "binrpc.sock")
	conn, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"},
		&net.UnixAddr{Name: c.addr.Addr, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Chmod(local, 0o666); err != nil {
		conn.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	c.localDir = dir
	return conn, nil
}

// Address returns the address the connection was dialled to.
func (c *Conn) Address() Address { return c.addr }

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = ErrClosed
	}
	err := c.c.Close()
	if c.localDir != "" {
		os.RemoveAll(c.localDir)
		c.localDir = ""
	}
	return err
}

// Call sends method with args and returns the reply's top-level values.
// A fault reply is returned as a *FaultError. The context's deadline bounds
// the write and the read; cancelling the context aborts the call.
func (c *Conn) Call(ctx context.Context, method string, args ...any) ([]Value, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return nil, fmt.Errorf("%s: %w", method, c.broken)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	cookie := rand.Uint32() | 1 // never 0: ctl echoes it on the minimal length
	var err error
	c.wbuf, err = AppendRequest(c.wbuf[:0], cookie, method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	deadline, _ := ctx.Deadline()
	if err := c.c.SetDeadline(deadline); err != nil {
		return nil, c.fail(ctx, method, err)
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := c.c.Write(c.wbuf); err != nil {
		return nil, c.fail(ctx, method, fmt.Errorf("write request: %w", err))
	}
	var h Header
	var hdr, payload []byte
	if c.addr.Stream() {
		h, hdr, payload, err = c.readStream(cookie)
	} else {
		h, hdr, payload, err = c.readDatagram(cookie)
	}
	if err != nil {
		return nil, c.fail(ctx, method, err)
	}
	if c.keepRaw {
		c.raw = append(append([]byte(nil), hdr...), payload...)
	}
	vals, err := DecodePayload(payload)
	if err != nil {
		// The frame was read whole: the stream stays in sync.
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	switch h.Type {
	case TypeFault:
		return nil, faultFrom(method, vals)
	case TypeReply:
		return vals, nil
	}
	return nil, fmt.Errorf("%s: %w", method, malformed("reply has packet type %s", h.Type))
}

// fail marks a stream connection unusable after an I/O or framing error
// (the next frame boundary is unknown) and wraps err with the method and,
// when the context ended the call, with the context's error.
func (c *Conn) fail(ctx context.Context, method string, err error) error {
	if c.addr.Stream() {
		c.broken = fmt.Errorf("%w after error: %v", ErrClosed, err)
		c.c.Close()
	}
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The socket deadline is the context's: it may fire a moment
		// before the context notices.
		if _, ok := ctx.Deadline(); ok {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil {
		return fmt.Errorf("%s: %w (%v)", method, cerr, err)
	}
	return fmt.Errorf("%s: %w", method, err)
}

func (c *Conn) readStream(cookie uint32) (h Header, hdr, payload []byte, err error) {
	hb := make([]byte, MaxHeaderSize)
	if _, err := io.ReadFull(c.c, hb[:2]); err != nil {
		return Header{}, nil, nil, fmt.Errorf("read header: %w", eofIsUnexpected(err))
	}
	n, err := HeaderSize(hb[0], hb[1])
	if err != nil {
		return Header{}, nil, nil, err
	}
	if _, err := io.ReadFull(c.c, hb[2:n]); err != nil {
		return Header{}, nil, nil, fmt.Errorf("read header: %w", eofIsUnexpected(err))
	}
	h, _, err = ParseHeader(hb[:n], c.maxReply)
	if err != nil {
		return h, nil, nil, err
	}
	if h.Cookie != cookie {
		return h, nil, nil, malformed("reply cookie %#x does not match request cookie %#x", h.Cookie, cookie)
	}
	if cap(c.rbuf) < h.Length {
		c.rbuf = make([]byte, h.Length)
	}
	payload = c.rbuf[:h.Length]
	if _, err := io.ReadFull(c.c, payload); err != nil {
		return h, nil, nil, fmt.Errorf("read payload (%d bytes): %w", h.Length, eofIsUnexpected(err))
	}
	return h, hb[:n], payload, nil
}

func (c *Conn) readDatagram(cookie uint32) (h Header, hdr, payload []byte, err error) {
	size := maxUDPDatagram
	if c.addr.Network == "unixgram" {
		size = maxUnixDatagram
	}
	size = min(size, c.maxReply+MaxHeaderSize)
	if cap(c.rbuf) < size {
		c.rbuf = make([]byte, size)
	}
	buf := c.rbuf[:size]
	for range maxStaleReplies {
		n, err := c.c.Read(buf)
		if err != nil {
			return Header{}, nil, nil, fmt.Errorf("read reply: %w", err)
		}
		var hl int
		h, hl, err = ParseHeader(buf[:n], c.maxReply)
		if err != nil {
			return h, nil, nil, err
		}
		if h.Cookie != cookie {
			continue // a late reply to an earlier call
		}
		if hl+h.Length > n {
			if n == len(buf) {
				return h, nil, nil, fmt.Errorf("%w: datagram reply of %d bytes does not fit the %d-byte buffer", ErrTooLarge, hl+h.Length, n)
			}
			return h, nil, nil, malformed("datagram truncated: %d of %d bytes", n, hl+h.Length)
		}
		return h, buf[:hl], buf[hl : hl+h.Length], nil
	}
	return Header{}, nil, nil, malformed("no reply with cookie %#x among %d datagrams", cookie, maxStaleReplies)
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
