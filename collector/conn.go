package collector

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// scrapeConn is a scrape's connection to Kamailio, as the collectors'
// Caller. send writes requests ahead, back to back; Call takes the reply of
// the first such request that matches, or sends its request then. It dials
// on first use and again after an error left the connection unusable, so
// one broken reply costs one collector, not the rest of the scrape.
type scrapeConn struct {
	addr  binrpc.Address
	conn  *binrpc.Conn
	ahead []sent // requests sent ahead whose replies were not taken
}

type sent struct {
	call
	p *binrpc.Pending
}

type dialError struct{ err error }

func (d *dialError) Error() string { return d.err.Error() }
func (d *dialError) Unwrap() error { return d.err }

// unreachableError is a discovery that got no reply to its first request:
// a scrape that could not reach Kamailio (kamailio_failure_total).
type unreachableError struct{ err error }

func (u *unreachableError) Error() string { return u.err.Error() }
func (u *unreachableError) Unwrap() error { return u.err }

// noReply reports whether err means that no reply came back, alike on
// every transport: the dial failed (unix, unixd, tcp), the socket reported
// an error (a udp or unixd request refused), the connection closed, or the
// deadline passed. A fault or a malformed reply did come from the peer.
func noReply(err error) bool {
	var ne net.Error
	return errors.As(err, new(*dialError)) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, binrpc.ErrClosed)
}

func (c *scrapeConn) dial(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	conn, err := binrpc.Dial(ctx, c.addr, binrpc.Options{})
	if err != nil {
		return &dialError{err}
	}
	c.conn = conn
	return nil
}

// send writes calls without waiting for their replies. A failure is not
// reported here: the calls are then made one by one when asked for.
func (c *scrapeConn) send(ctx context.Context, calls []call) {
	if c.dial(ctx) != nil {
		return
	}
	for _, k := range calls {
		p, err := c.conn.Send(ctx, k.method, k.args...)
		if err != nil {
			return
		}
		c.ahead = append(c.ahead, sent{k, p})
	}
}

func (c *scrapeConn) Call(ctx context.Context, method string, args ...any) ([]binrpc.Value, error) {
	return c.call(ctx, method, args, false)
}

func (c *scrapeConn) CallEncoded(ctx context.Context, method string, args ...any) ([]binrpc.Value, error) {
	return c.call(ctx, method, args, true)
}

// call takes the reply of a request sent ahead, or sends the request.
func (c *scrapeConn) call(ctx context.Context, method string, args []any, encoded bool) ([]binrpc.Value, error) {
	wait := (*binrpc.Pending).Wait
	if encoded {
		wait = (*binrpc.Pending).WaitEncoded
	}
	i := slices.IndexFunc(c.ahead, func(s sent) bool { return s.method == method && slices.Equal(s.args, args) })
	if i >= 0 {
		p := c.ahead[i].p
		c.ahead = slices.Delete(c.ahead, i, i+1)
		vals, err := wait(p, ctx)
		c.check(err)
		if !errors.Is(err, binrpc.ErrAbandoned) {
			return vals, err
		}
		// The connection broke before this reply was read: ask again on a
		// new one.
	}
	if err := c.dial(ctx); err != nil {
		return nil, err
	}
	p, err := c.conn.Send(ctx, method, args...)
	if err != nil {
		c.check(err)
		return nil, err
	}
	vals, err := wait(p, ctx)
	c.check(err)
	return vals, err
}

// check drops a connection that err left unusable, with the replies still
// expected on it.
func (c *scrapeConn) check(err error) {
	if err != nil && c.conn != nil && c.conn.Err() != nil {
		c.conn.Close()
		c.conn, c.ahead = nil, nil
	}
}

// drain reads the replies nobody took (collectors that turned out not to
// run) and returns the connection, nil when it broke.
func (c *scrapeConn) drain(ctx context.Context) *binrpc.Conn {
	for _, s := range c.ahead {
		if _, err := s.p.Wait(ctx); err != nil {
			c.check(err)
		}
	}
	c.ahead = nil
	return c.conn
}

// maxIdle is how long the connection of the last scrape is kept for the
// next one. Scrape intervals are usually 15 s to 1 min.
const maxIdle = 2 * time.Minute

// idleConn keeps one connection between scrapes, so that a scrape does not
// cost Kamailio an accept and a close. A connection is kept only when
// nothing is in flight on it, and is closed after maxIdle unused.
type idleConn struct {
	mu     sync.Mutex
	conn   *binrpc.Conn
	timer  *time.Timer
	closed bool
}

func (p *idleConn) take() *binrpc.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conn
	p.conn = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	return c
}

func (p *idleConn) put(c *binrpc.Conn) {
	if c == nil {
		return
	}
	if !c.Idle() {
		c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil || p.closed {
		c.Close() // another scrape's connection is kept already
		return
	}
	p.conn = c
	p.timer = time.AfterFunc(maxIdle, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.conn == c {
			p.conn, p.timer = nil, nil
			c.Close()
		}
	})
}

func (p *idleConn) close() {
	c := p.take()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}
