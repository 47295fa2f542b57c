package binrpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"
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
	// streamReadBuffer is the read buffer of a stream connection: one
	// read takes in several small replies.
	streamReadBuffer = 32 << 10
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
	localDir string // unix datagram, not abstract: directory of our bound socket
	keepRaw  bool

	mu       sync.Mutex
	wbuf     []byte // requests sent but not yet written (stream)
	sbuf     []byte // the request being sent
	br       *bufio.Reader
	hbuf     [MaxHeaderSize]byte
	rbuf     []byte
	raw      []byte
	broken   error
	queue    []*Pending // requests in flight, in the order sent
	inflight int        // their request bytes
	// On a stream, replies are read as they come, by a reader goroutine
	// that runs while requests are in flight (readStreamReplies); Pendings
	// wait for it. waitCtx is the context of the last wait, for its errors.
	reading  bool
	progress chan struct{} // closed, and replaced, when a reply is read
	waitCtx  context.Context
	// prev is the reply read last on a stream: a malformed header after
	// it shows that its own end may be lost (spliced).
	prev *Pending
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

// abstractUnix tells whether the unix datagram reply socket is bound in
// Linux's abstract namespace (a variable so that tests can try the file
// fallback on Linux too).
var abstractUnix = runtime.GOOS == "linux"

// dialUnixgram binds a socket for ctl's replies (a unix datagram reply goes
// to the sender's address, so the client must have one) and connects it to
// ctl's socket. On Linux the reply socket is bound in the abstract
// namespace: it is no file, so nothing is left behind however the process
// ends, and no writable temporary directory is needed. Elsewhere it is a
// file in a private temporary directory, which Close removes.
func (c *Conn) dialUnixgram() (net.Conn, error) {
	remote := &net.UnixAddr{Name: c.addr.Addr, Net: "unixgram"}
	if abstractUnix {
		// A leading "@" names an abstract socket. Like the temporary
		// directory's, the random name keeps connections apart.
		local := &net.UnixAddr{Name: fmt.Sprintf("@kamailio_exporter-%d-%016x", os.Getpid(), rand.Uint64()), Net: "unixgram"}
		return net.DialUnix("unixgram", local, remote)
	}
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
	conn, err := net.DialUnix("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"}, remote)
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

// Err returns nil while the connection is usable, else why it is not
// (an error wrapping ErrClosed).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// Idle reports whether the connection is usable and has no request in
// flight, so that the next call's reply is the next frame.
func (c *Conn) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken == nil && len(c.queue) == 0 && len(c.wbuf) == 0
}

// streamReaders and streamBuffers hold the read buffers that idle stream
// connections gave back (ReleaseBuffers), for the next connection that
// reads.
var (
	streamReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, streamReadBuffer) }}
	streamBuffers = sync.Pool{New: func() any { b := make([]byte, streamReadBuffer); return &b }}
)

// ReleaseBuffers gives an idle stream connection's read buffers (64 KB)
// back to a pool shared by every connection; its next read takes them
// again. One exporter probing thousands of Kamailios keeps a connection to
// each between probes, but reads on a few at a time.
func (c *Conn) ReleaseBuffers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.br != nil && c.br.Buffered() == 0 {
		c.br.Reset(nil)
		streamReaders.Put(c.br)
		c.br = nil
	}
	if c.br == nil && cap(c.rbuf) == streamReadBuffer {
		b := c.rbuf[:streamReadBuffer]
		streamBuffers.Put(&b)
		c.rbuf = nil
	}
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil {
		c.broken = ErrClosed
	}
	c.abandon(nil)
	err := c.c.Close()
	if c.localDir != "" {
		os.RemoveAll(c.localDir)
		c.localDir = ""
	}
	return err
}

// Call sends method with args and returns the reply's top-level values.
// A fault reply is returned as a *FaultError. The context's deadline bounds
// the write and the read; cancelling the context aborts the call. Replies
// to earlier Sends that arrive first are kept for their Pending.
func (c *Conn) Call(ctx context.Context, method string, args ...any) ([]Value, error) {
	p, err := c.Send(ctx, method, args...)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is a request sent with Send whose reply has not been returned
// yet.
type Pending struct {
	c      *Conn
	method string
	cookie uint32
	size   int // request bytes, counted against the in-flight cap
	done   bool
	// arrived is when the reply was read whole; zero if it was not.
	arrived time.Time
	// The reply, kept encoded until Wait: a reply that arrives while an
	// earlier one is awaited costs its bytes, not its decoded tree.
	payload string
	fault   bool
	decoded bool // vals and err hold the decoded reply
	vals    []Value
	err     error
}

const (
	// maxInflightBytes caps the request bytes sent on a stream but not yet
	// answered: a batch. ctl reads a connection into a 64 KiB buffer and
	// answers each request before it reads on. A batch is written only
	// once every earlier reply has been read, in one write well below the
	// socket's buffer, so the write can never block on a ctl that is
	// itself blocked writing replies nobody reads yet. (Requests written
	// one by one while replies are unread can deadlock: each small write
	// takes about 1 KiB of the socket buffer.)
	maxInflightBytes = 16 << 10
	// maxInflightDatagrams caps unanswered datagram requests, so that
	// their replies fit the socket's receive buffer and are not dropped.
	maxInflightDatagrams = 4
)

// Send writes a request for method without waiting for its reply, so that
// several requests can be pipelined: ctl answers them in order, back to
// back, and the caller reads each reply with Wait. On a stream the request
// is buffered and written together with the following ones when a reply is
// first waited for. Send waits for earlier replies itself only to keep the
// requests in flight under a small cap.
func (c *Conn) Send(ctx context.Context, method string, args ...any) (*Pending, error) {
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
	c.sbuf, err = AppendRequest(c.sbuf[:0], cookie, method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	p := &Pending{c: c, method: method, cookie: cookie, size: len(c.sbuf)}
	if n := len(c.queue); n > 0 && c.overCap(p.size) {
		// Make room: read every reply in flight (each is kept for its
		// Pending). The requests then go out in batches, each in one write
		// that the peer has room for: it has read all the earlier ones.
		if err := c.await(ctx, c.queue[n-1]); err != nil {
			return nil, err
		}
	}
	c.wbuf = append(c.wbuf, c.sbuf...)
	c.queue = append(c.queue, p)
	c.inflight += p.size
	if !c.addr.Stream() {
		// Datagrams are not batched: each request is its own packet.
		if err := c.flush(ctx); err != nil {
			return nil, c.fail(ctx, method, err, p)
		}
	}
	return p, nil
}

func (c *Conn) overCap(size int) bool {
	if c.addr.Stream() {
		return c.inflight+size > maxInflightBytes
	}
	return len(c.queue) >= maxInflightDatagrams
}

// Wait returns the reply of p's request: its top-level values, or a
// *FaultError for a fault. The context's deadline bounds the reads;
// cancelling it aborts the wait. A Pending whose connection broke before
// its reply was read returns an error wrapping ErrAbandoned.
func (p *Pending) Wait(ctx context.Context) ([]Value, error) { return p.wait(ctx, 0) }

// WaitEncoded is Wait, but leaves the reply's top-level structs and arrays
// encoded: Value.Walk walks one of them in one pass, a member at a time,
// descending into the containers inside when asked; Value.Each gives its
// members with their containers encoded, Value.Expand decodes it whole,
// and Value.Get finds a member in it. A large reply (dispatcher.list,
// stats.fetch) is then never decoded whole (BENCHMARKS.md, resident
// memory).
func (p *Pending) WaitEncoded(ctx context.Context) ([]Value, error) { return p.wait(ctx, 1) }

// Read waits until the reply of p's request has been read, without
// decoding it; Wait then returns it. An error is a failure to read the
// reply, which Wait returns too.
func (p *Pending) Read(ctx context.Context) error {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.await(ctx, p)
}

// wait waits for the reply and decodes it, leaving containers at level
// lazy or deeper encoded (none for 0).
func (p *Pending) wait(ctx context.Context, lazy int) ([]Value, error) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.await(ctx, p); err != nil {
		return nil, err
	}
	if p.err == nil && !p.decoded {
		p.vals, p.err = decodeString(p.payload, lazy)
		p.payload, p.decoded = "", true
		switch {
		case p.err != nil:
			// The frame was read whole: the stream stays in sync.
			p.err = fmt.Errorf("%s: %w", p.method, p.err)
		case p.fault:
			p.vals, p.err = nil, faultFrom(p.method, p.vals)
		}
	}
	return p.vals, p.err
}

// ErrAbandoned is the error of a pipelined request whose connection broke
// (or was closed) before its reply was read: the request may be sent again
// on a new connection.
var ErrAbandoned = fmt.Errorf("%w before the reply was read", ErrClosed)

// await reads replies in order until p's has arrived (nothing when it
// has), completing the Pendings they belong to. It is called with c.mu
// held. Its error is a failure to read p's reply; a fault or a malformed
// payload is p's result.
func (c *Conn) await(ctx context.Context, p *Pending) error {
	if p.done {
		return nil
	}
	if c.broken != nil {
		p.done, p.err = true, fmt.Errorf("%s: %w", p.method, c.broken)
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", p.method, err)
	}
	deadline, _ := ctx.Deadline()
	if err := c.c.SetDeadline(deadline); err != nil {
		return c.fail(ctx, p.method, err, p)
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.flush(ctx); err != nil {
		return c.fail(ctx, p.method, fmt.Errorf("write request: %w", err), p)
	}
	if c.addr.Stream() {
		return c.awaitStream(ctx, p)
	}
	for !p.done {
		h, hdr, payload, q, err := c.readDatagram(p)
		if err != nil {
			return c.fail(ctx, p.method, err, p)
		}
		c.complete(q, h, hdr, payload, false)
	}
	return nil
}

// awaitStream waits, with c.mu held but while waiting, until the reader
// goroutine has read p's reply, starting it if it is not running. Reading
// every reply as it comes, whether or not it is waited for yet, matters:
// ctl writes a reply with one non-blocking writev and drops what the
// socket buffer cannot take at that moment, so a reply written while
// nobody reads (the caller busy with an earlier one) can be cut short,
// and the wait for its rest lasts until the deadline.
func (c *Conn) awaitStream(ctx context.Context, p *Pending) error {
	c.waitCtx = ctx
	for !p.done {
		if !c.reading {
			c.reading = true
			go c.readStreamReplies()
		}
		if c.progress == nil {
			c.progress = make(chan struct{})
		}
		progress := c.progress
		c.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if !p.done && ctx.Err() != nil {
			return c.fail(ctx, p.method, ctx.Err(), p)
		}
	}
	if p.err != nil && !p.fault {
		return p.err
	}
	return nil
}

// readStreamReplies reads the replies of a stream's requests in flight, in
// order (ctl answers them so), and completes their Pendings, until none is
// left or the connection breaks.
func (c *Conn) readStreamReplies() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 && c.broken == nil {
		// The reply being read is the oldest request's: a failure is its
		// error, and the requests after it are abandoned.
		q, ctx := c.queue[0], c.waitCtx
		c.mu.Unlock()
		h, hdr, payload, owned, err := c.readStream(ctx, q.cookie)
		c.mu.Lock()
		switch {
		case c.broken != nil: // closed meanwhile
		case err != nil:
			c.spliced(err)
			c.fail(c.waitCtx, q.method, err, q)
		default:
			c.complete(q, h, hdr, payload, owned)
			c.prev = q
		}
		if c.progress != nil {
			close(c.progress)
			c.progress = nil
		}
	}
	// With nothing in flight, no reply follows the last one read.
	c.reading, c.prev = false, nil
}

// spliced handles a malformed frame header, err, read after the reply
// c.prev: when ctl cut that reply (ErrCut), the replies it wrote after it
// filled its length, and the header was read from inside one of them. The
// reply read whole is then not trusted: unless already taken, it fails with
// ErrCut, and a session asks again.
func (c *Conn) spliced(err error) {
	p := c.prev
	if p == nil || p.decoded || !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
		return
	}
	p.payload, p.fault = "", false
	p.err = fmt.Errorf("%s: the next reply's header is malformed (%v), so this reply may hold the start of the next: %w", p.method, err, ErrCut)
}

// flush writes the buffered requests.
func (c *Conn) flush(ctx context.Context) error {
	if len(c.wbuf) == 0 {
		return nil
	}
	// A deadline left by an earlier, cancelled call must not fail this
	// write; without a deadline in ctx the write has none.
	deadline, _ := ctx.Deadline()
	if err := c.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.c.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

// dequeue removes q from the requests in flight, if it is there.
func (c *Conn) dequeue(q *Pending) {
	if i := slices.Index(c.queue, q); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
		c.inflight -= q.size
	}
}

// complete stores the reply of q, decoded by Wait, and removes q from the
// queue. owned tells that payload is q's alone (no buffer of c's), so it is
// kept without a copy.
func (c *Conn) complete(q *Pending, h Header, hdr, payload []byte, owned bool) {
	c.dequeue(q)
	q.done, q.arrived = true, time.Now()
	if c.keepRaw {
		c.raw = append(append([]byte(nil), hdr...), payload...)
	}
	if h.Type != TypeReply && h.Type != TypeFault {
		q.err = fmt.Errorf("%s: %w", q.method, malformed("reply has packet type %s", h.Type))
		return
	}
	q.fault = h.Type == TypeFault
	switch {
	case owned && len(payload) > 0:
		// Nothing else refers to the buffer, and nothing writes it again:
		// the decoded strings can be its substrings without a copy.
		q.payload = unsafe.String(&payload[0], len(payload))
	default:
		q.payload = string(payload)
	}
}

// fail handles an I/O or framing error while p was sent or awaited. A
// stream connection is marked unusable (the next frame boundary is
// unknown) and every other request in flight is abandoned; on a datagram
// socket only p is given up (a late reply to it is skipped as stale). The
// error is wrapped with the method and, when the context ended the call,
// with the context's error.
func (c *Conn) fail(ctx context.Context, method string, err error, p *Pending) error {
	if c.addr.Stream() {
		c.broken = fmt.Errorf("%w after error: %v", ErrClosed, err)
		c.c.Close()
		c.abandon(p)
	} else {
		c.dequeue(p)
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
		err = fmt.Errorf("%s: %w (%v)", method, cerr, err)
	} else {
		err = fmt.Errorf("%s: %w", method, err)
	}
	if p != nil {
		p.done, p.err = true, err
	}
	return err
}

// abandon completes every request in flight but except, with ErrAbandoned.
func (c *Conn) abandon(except *Pending) {
	for _, q := range c.queue {
		if q != except {
			q.done, q.err = true, fmt.Errorf("%s: %w", q.method, ErrAbandoned)
		}
	}
	c.queue, c.inflight = nil, 0
	c.wbuf = c.wbuf[:0]
}

// readStream reads the next reply frame; ctl answers a stream's requests
// in order, so it must carry the cookie of the oldest request in flight.
// A payload that fits the read buffer is read into c's buffer and valid
// until the next read; a larger one into a buffer of its own (owned), so
// that a connection kept between scrapes does not hold the largest reply
// it has seen.
func (c *Conn) readStream(ctx context.Context, cookie uint32) (h Header, hdr, payload []byte, owned bool, err error) {
	if c.br == nil {
		c.br = streamReaders.Get().(*bufio.Reader)
		c.br.Reset(c.c)
	}
	hb := c.hbuf[:]
	if _, err := io.ReadFull(c.br, hb[:2]); err != nil {
		return Header{}, nil, nil, false, fmt.Errorf("read header: %w", eofIsUnexpected(err))
	}
	n, err := HeaderSize(hb[0], hb[1])
	if err != nil {
		return Header{}, nil, nil, false, err
	}
	if _, err := io.ReadFull(c.br, hb[2:n]); err != nil {
		return Header{}, nil, nil, false, fmt.Errorf("read header: %w", eofIsUnexpected(err))
	}
	h, _, err = ParseHeader(hb[:n], c.maxReply)
	if err != nil {
		return h, nil, nil, false, err
	}
	if h.Cookie != cookie {
		return h, nil, nil, false, malformed("reply cookie %#x does not match request cookie %#x", h.Cookie, cookie)
	}
	if owned = h.Length > streamReadBuffer; owned {
		payload = make([]byte, h.Length)
	} else {
		if cap(c.rbuf) < h.Length {
			c.rbuf = *streamBuffers.Get().(*[]byte)
		}
		payload = c.rbuf[:h.Length]
	}
	if err := c.readPayload(ctx, payload); err != nil {
		return h, nil, nil, false, err
	}
	return h, hb[:n], payload, owned, nil
}

// ErrCut is the error of a reply whose bytes stopped coming before its
// end: ctl writes a reply with one non-blocking writev and drops what the
// socket cannot take at that moment, so the rest never comes. It is also
// the error of a reply followed by a malformed header: the rest of a cut
// reply is then made of the replies after it. The request may be sent
// again on a new connection.
var ErrCut = errors.New("reply cut short (ctl drops what the socket cannot take)")

// stallTimeout is how long a reply's bytes may stop coming before it is
// taken as cut. ctl gives up writing after 10 ms.
const stallTimeout = 500 * time.Millisecond

// readPayload reads a reply's payload, within ctx's deadline, failing with
// ErrCut when its bytes stop for stallTimeout.
func (c *Conn) readPayload(ctx context.Context, p []byte) error {
	end, bounded := ctx.Deadline()
	// The next header may take as long as Kamailio needs: back to ctx's
	// deadline after the payload.
	defer c.c.SetReadDeadline(end)
	for n := 0; n < len(p); {
		stall := time.Now().Add(stallTimeout)
		if bounded && end.Before(stall) {
			stall = end
		}
		if ctx.Err() != nil {
			stall = time.Unix(1, 0)
		}
		if err := c.c.SetReadDeadline(stall); err != nil {
			return fmt.Errorf("read payload (%d bytes): %w", len(p), err)
		}
		m, err := c.br.Read(p[n:])
		n += m
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil && (!bounded || time.Now().Before(end)):
			return fmt.Errorf("read payload (%d bytes): %d read, then nothing for %v: %w", len(p), n, stallTimeout, ErrCut)
		default:
			return fmt.Errorf("read payload (%d bytes): %w", len(p), eofIsUnexpected(err))
		}
	}
	return nil
}

// readDatagram reads datagrams until one answers a request in flight, and
// returns it with that request. Datagrams with a foreign cookie (late
// replies to requests given up) are skipped, a bounded number of times.
func (c *Conn) readDatagram(p *Pending) (h Header, hdr, payload []byte, q *Pending, err error) {
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
			return Header{}, nil, nil, nil, fmt.Errorf("read reply: %w", err)
		}
		var hl int
		h, hl, err = ParseHeader(buf[:n], c.maxReply)
		if err != nil {
			return h, nil, nil, nil, err
		}
		q = nil
		for _, x := range c.queue {
			if x.cookie == h.Cookie {
				q = x
				break
			}
		}
		if q == nil {
			continue // a late reply to an earlier call
		}
		if hl+h.Length > n {
			if n == len(buf) {
				return h, nil, nil, nil, fmt.Errorf("%w: datagram reply of %d bytes does not fit the %d-byte buffer", ErrTooLarge, hl+h.Length, n)
			}
			return h, nil, nil, nil, malformed("datagram truncated: %d of %d bytes", n, hl+h.Length)
		}
		return h, buf[:hl], buf[hl : hl+h.Length], q, nil
	}
	return Header{}, nil, nil, nil, malformed("no reply with cookie %#x among %d datagrams", p.cookie, maxStaleReplies)
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
