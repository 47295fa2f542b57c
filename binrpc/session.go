package binrpc

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// Request is one RPC: a method and its arguments.
type Request struct {
	Method string
	Args   []any
}

// Session carries a run of requests (a scrape's) on one connection. Send
// writes requests ahead, back to back; Call takes the reply of the first
// request sent ahead that matches, or sends its request then. A session
// dials on first use and again after an error left its connection
// unusable, so one broken reply costs one call, not the rest of the run,
// and a reply cut short (ErrCut) is asked again. It is not safe for
// concurrent use.
type Session struct {
	addr    Address
	conn    *Conn
	ahead   []sent    // requests sent ahead whose replies were not taken
	arrived time.Time // when the last call's reply arrived
}

type sent struct {
	Request
	p *Pending
}

// NewSession starts a session with addr on conn, a connection kept from an
// earlier session, or on a new one when conn is nil.
func NewSession(addr Address, conn *Conn) *Session { return &Session{addr: addr, conn: conn} }

type dialError struct{ err error }

func (d *dialError) Error() string { return d.err.Error() }
func (d *dialError) Unwrap() error { return d.err }

// NoReply reports whether err, from a Session, means that no reply came
// back, alike on every transport: the dial failed (unix, unixd, tcp), the
// socket reported an error (a udp or unixd request refused), the connection
// closed, or the deadline passed. A fault or a malformed reply did come
// from the peer.
func NoReply(err error) bool {
	var ne net.Error
	return errors.As(err, new(*dialError)) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrClosed)
}

func (s *Session) dial(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	conn, err := Dial(ctx, s.addr, Options{})
	if err != nil {
		return &dialError{err}
	}
	s.conn = conn
	return nil
}

// Send writes reqs without waiting for their replies. A failure is not
// reported here: the requests are then made one by one when called.
func (s *Session) Send(ctx context.Context, reqs []Request) {
	if s.dial(ctx) != nil {
		return
	}
	for _, r := range reqs {
		p, err := s.conn.Send(ctx, r.Method, r.Args...)
		if err != nil {
			return
		}
		s.ahead = append(s.ahead, sent{r, p})
	}
}

// Receive reads the replies of every request sent ahead, without decoding
// them, and returns once all have arrived or one could not be read (the
// call that takes it gets the error). ctl writes a reply with one
// non-blocking writev and drops what the socket cannot take at that
// moment: a caller that takes the replies as they come and converts each
// is busy while later replies arrive, and on one CPU the goroutine
// reading them then waits for it, so a large reply can be cut short.
// After Receive, Kamailio writes nothing more while the caller converts.
func (s *Session) Receive(ctx context.Context) {
	if n := len(s.ahead); n > 0 {
		s.ahead[n-1].p.Read(ctx)
	}
}

// Call returns the reply to method with args, fully decoded.
func (s *Session) Call(ctx context.Context, method string, args ...any) ([]Value, error) {
	return s.call(ctx, method, args, false)
}

// CallEncoded returns the reply with its top-level structs and arrays left
// encoded (Pending.WaitEncoded).
func (s *Session) CallEncoded(ctx context.Context, method string, args ...any) ([]Value, error) {
	return s.call(ctx, method, args, true)
}

// call takes the reply of a request sent ahead, or sends the request.
func (s *Session) call(ctx context.Context, method string, args []any, encoded bool) ([]Value, error) {
	wait := (*Pending).Wait
	if encoded {
		wait = (*Pending).WaitEncoded
	}
	s.arrived = time.Time{}
	i := slices.IndexFunc(s.ahead, func(r sent) bool { return r.Method == method && slices.Equal(r.Args, args) })
	if i >= 0 {
		p := s.ahead[i].p
		s.ahead = slices.Delete(s.ahead, i, i+1)
		vals, err := wait(p, ctx)
		s.arrived = p.arrived
		s.check(err)
		if !errors.Is(err, ErrAbandoned) && !errors.Is(err, ErrCut) {
			return vals, err
		}
		// The connection broke before this reply was read, or the reply
		// was cut: ask again on a new connection, where it is the only
		// request.
	}
	if err := s.dial(ctx); err != nil {
		return nil, err
	}
	p, err := s.conn.Send(ctx, method, args...)
	if err != nil {
		s.check(err)
		return nil, err
	}
	vals, err := wait(p, ctx)
	s.arrived = p.arrived
	s.check(err)
	return vals, err
}

// Arrived returns when the reply of the session's last call was read
// whole (as it came, perhaps before the call): Kamailio's answer time, not
// the caller's. Zero when the call got no reply.
func (s *Session) Arrived() time.Time { return s.arrived }

// check drops a connection that err left unusable, with the replies still
// expected on it.
func (s *Session) check(err error) {
	if err != nil && s.conn != nil && s.conn.Err() != nil {
		s.Close()
	}
}

// Close closes the session's connection, dropping the replies still
// expected on it.
func (s *Session) Close() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.ahead = nil, nil
}

// End reads the replies nobody took, without decoding them, and returns
// the connection, to be kept for a later session; nil when it broke.
func (s *Session) End(ctx context.Context) *Conn {
	for _, r := range s.ahead {
		s.check(r.p.Read(ctx))
	}
	s.ahead = nil
	return s.conn
}

// KeptConn keeps one connection between sessions, so that each does not
// cost Kamailio an accept and a close. A connection is kept only when
// nothing is in flight on it, and is closed after MaxIdle unused. The
// zero value is ready to use.
type KeptConn struct {
	// Lean gives a kept connection's read buffers back while it is idle
	// (Conn.ReleaseBuffers).
	Lean bool

	mu     sync.Mutex
	conn   *Conn
	timer  *time.Timer
	closed bool
}

// MaxIdle is how long a KeptConn keeps an unused connection. Scrape
// intervals are usually 15 s to 1 min.
const MaxIdle = 2 * time.Minute

// Take returns the kept connection, or nil.
func (k *KeptConn) Take() *Conn {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.conn
	k.conn = nil
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	return c
}

// Put keeps c, or closes it when it is busy, another is kept or k is
// closed.
func (k *KeptConn) Put(c *Conn) {
	if c == nil {
		return
	}
	if !c.Idle() {
		c.Close()
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn != nil || k.closed {
		c.Close()
		return
	}
	if k.Lean {
		c.ReleaseBuffers()
	}
	k.conn = c
	k.timer = time.AfterFunc(MaxIdle, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.conn == c {
			k.conn, k.timer = nil, nil
			c.Close()
		}
	})
}

// Close closes the kept connection; Put closes those it is given after.
func (k *KeptConn) Close() {
	c := k.Take()
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	if c != nil {
		c.Close()
	}
}
