package binrpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

var networks = []string{"unix", "unixgram", "tcp", "udp"}

func echo(req fakectl.Request) fakectl.Response {
	switch req.Method {
	case "echo":
		return fakectl.Response{Values: req.Args}
	case "big":
		return fakectl.Response{Values: []binrpc.Value{binrpc.String(strings.Repeat("x", 60000))}}
	case "dlg.profile_get_size":
		return fakectl.Response{Fault: &binrpc.FaultError{Code: 404, Message: "Profile not found"}}
	}
	return fakectl.Response{Fault: &binrpc.FaultError{Code: 500, Message: "command " + req.Method + " not found"}}
}

// cutting answers as echo does, but "cut" with half a reply, and closes
// the connection.
func cutting(r fakectl.Request) fakectl.Response {
	if r.Method == "cut" {
		resp := repeated(r, "x", 100, true)
		resp.Close = true
		return resp
	}
	return echo(r)
}

// repeated answers r with a string of n times s, or with the first half of
// that reply's bytes when cut (and the connection stays open).
func repeated(r fakectl.Request, s string, n int, cut bool) fakectl.Response {
	full := fakectl.Packet(binrpc.TypeReply, r.Cookie, binrpc.String(strings.Repeat(s, n)))
	if cut {
		return fakectl.Response{Raw: full[:len(full)/2]}
	}
	return fakectl.Response{Raw: full}
}

func start(t *testing.T, network string, h fakectl.Handler) (*fakectl.Server, binrpc.Address) {
	t.Helper()
	s, err := fakectl.Start(network, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	addr, err := binrpc.ParseURI(s.URI())
	if err != nil {
		t.Fatal(err)
	}
	return s, addr
}

func dial(t *testing.T, addr binrpc.Address) *binrpc.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := binrpc.Dial(ctx, addr, binrpc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// Many calls in sequence over one connection, on every transport, with
// mixed argument types, a fault, and a reply near the datagram size.
func TestCallsOverEveryTransport(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			_, addr := start(t, network, echo)
			c := dial(t, addr)
			for i := range 20 {
				got, err := c.Call(ctx(t, 5*time.Second), "echo", "a", i, -7, 1.25)
				if err != nil {
					t.Fatal(err)
				}
				want := []binrpc.Value{binrpc.String("a"), binrpc.Int(int64(i)), binrpc.Int(-7), binrpc.Double(1.25)}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("call %d: got %#v", i, got)
				}
			}
			_, err := c.Call(ctx(t, 5*time.Second), "dlg.profile_get_size", "nope")
			var f *binrpc.FaultError
			if !errors.As(err, &f) || f.Code != 404 || f.Message != "Profile not found" || f.Method != "dlg.profile_get_size" {
				t.Fatalf("fault: %v", err)
			}
			_, err = c.Call(ctx(t, 5*time.Second), "no.such")
			if !binrpc.IsMethodNotFound(err) {
				t.Fatalf("missing method: %v", err)
			}
			big, err := c.Call(ctx(t, 5*time.Second), "big")
			if err != nil || len(big) != 1 || len(big[0].Str) != 60000 {
				t.Fatalf("big reply: %v", err)
			}
			// The connection is still usable after faults.
			if _, err := c.Call(ctx(t, 5*time.Second), "echo"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A server that never answers: the call ends at the context deadline, and
// a stream connection is unusable afterwards (its framing is lost).
func TestDeadline(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			_, addr := start(t, network, func(fakectl.Request) fakectl.Response { return fakectl.Response{Silent: true} })
			c := dial(t, addr)
			begin := time.Now()
			_, err := c.Call(ctx(t, 200*time.Millisecond), "core.uptime")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want deadline exceeded", err)
			}
			if el := time.Since(begin); el > 3*time.Second {
				t.Fatalf("call took %v", el)
			}
			if addr.Stream() {
				if _, err := c.Call(ctx(t, time.Second), "core.uptime"); !errors.Is(err, binrpc.ErrClosed) {
					t.Fatalf("second call: %v, want ErrClosed", err)
				}
			}
		})
	}
}

func TestCancel(t *testing.T) {
	_, addr := start(t, "unix", func(fakectl.Request) fakectl.Response { return fakectl.Response{Silent: true} })
	c := dial(t, addr)
	cx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := c.Call(cx, "core.uptime"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
}

func TestHostileReplies(t *testing.T) {
	tests := []struct {
		name string
		raw  func(cookie uint32) []byte
		want error
	}{
		{"wrong cookie", func(c uint32) []byte {
			return fakectl.Packet(binrpc.TypeReply, c+1, binrpc.Int(1))
		}, binrpc.ErrMalformed},
		{"gigabyte length", func(c uint32) []byte {
			return append(binrpc.AppendHeader(nil, binrpc.TypeReply, 0x7fffffff, c), 0)
		}, binrpc.ErrTooLarge},
		{"garbage", func(uint32) []byte { return []byte("HTTP/1.0 400 Bad Request\r\n\r\n") }, binrpc.ErrMalformed},
		{"request type", func(c uint32) []byte {
			return fakectl.Packet(binrpc.TypeRequest, c, binrpc.Int(1))
		}, binrpc.ErrMalformed},
		{"bad record", func(c uint32) []byte {
			return append(binrpc.AppendHeader(nil, binrpc.TypeReply, 2, c), 0x03, 0x84)
		}, binrpc.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := start(t, "unix", func(r fakectl.Request) fakectl.Response {
				return fakectl.Response{Raw: tt.raw(r.Cookie)}
			})
			c := dial(t, addr)
			if _, err := c.Call(ctx(t, 2*time.Second), "x"); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTruncatedAndClosed(t *testing.T) {
	for _, cut := range []int{1, 3, 6, 20} {
		_, addr := start(t, "tcp", func(r fakectl.Request) fakectl.Response {
			p := fakectl.Packet(binrpc.TypeReply, r.Cookie, binrpc.String(strings.Repeat("y", 40)))
			return fakectl.Response{Raw: p[:cut], Close: true}
		})
		c := dial(t, addr)
		_, err := c.Call(ctx(t, 2*time.Second), "x")
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cut %d: err = %v, want a prompt error", cut, err)
		}
	}
}

// Late replies to an earlier, timed-out datagram call are skipped.
func TestDatagramSkipsStaleReplies(t *testing.T) {
	slow := true
	_, addr := start(t, "udp", func(r fakectl.Request) fakectl.Response {
		if slow {
			slow = false
			return fakectl.Response{Delay: 300 * time.Millisecond, Values: []binrpc.Value{binrpc.String("late")}}
		}
		return fakectl.Response{Values: []binrpc.Value{binrpc.String("fresh")}}
	})
	c := dial(t, addr)
	if _, err := c.Call(ctx(t, 100*time.Millisecond), "first"); err == nil {
		t.Fatal("first call should time out")
	}
	time.Sleep(400 * time.Millisecond)
	got, err := c.Call(ctx(t, 2*time.Second), "second")
	if err != nil || got[0].Str != "fresh" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, a := range []binrpc.Address{{Network: "tcp", Addr: addr}, {Network: "unix", Addr: t.TempDir() + "/none"}, {Network: "unixgram", Addr: t.TempDir() + "/none"}} {
		c, err := binrpc.Dial(ctx(t, 2*time.Second), a, binrpc.Options{})
		if err == nil {
			// unixgram may connect lazily; the call must then fail.
			_, err = c.Call(ctx(t, 2*time.Second), "x")
			c.Close()
		}
		if err == nil {
			t.Errorf("%v: no error", a)
		}
	}
}

// Pipelined requests: many Sends before any Wait, on every transport, each
// Pending gets its own reply whatever the order of the Waits, and requests
// larger in total than the in-flight cap neither block nor get mixed up.
func TestPipelineOverEveryTransport(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, addr := start(t, network, echo)
			c := dial(t, addr)
			pad := strings.Repeat("p", 1000) // 60 requests: ~60 KB in flight
			var ps []*binrpc.Pending
			for i := range 60 {
				p, err := c.Send(ctx(t, 5*time.Second), "echo", i, pad)
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				ps = append(ps, p)
			}
			for i := len(ps) - 1; i >= 0; i-- { // newest first
				got, err := ps[i].Wait(ctx(t, 5*time.Second))
				if err != nil {
					t.Fatalf("wait %d: %v", i, err)
				}
				if len(got) != 2 || got[0].Int != int64(i) || got[1].Str != pad {
					t.Fatalf("wait %d: got %v", i, got[:1])
				}
			}
			// A fault among pipelined requests is that request's result only.
			p1, _ := c.Send(ctx(t, 5*time.Second), "echo", "before")
			p2, _ := c.Send(ctx(t, 5*time.Second), "dlg.profile_get_size", "x")
			p3, _ := c.Send(ctx(t, 5*time.Second), "echo", "after")
			if got, err := p3.Wait(ctx(t, 5*time.Second)); err != nil || got[0].Str != "after" {
				t.Fatalf("p3: %v %v", got, err)
			}
			if _, err := p2.Wait(ctx(t, 5*time.Second)); !binrpc.IsFault(err, 404, "Profile not found") {
				t.Fatalf("p2: %v", err)
			}
			if got, err := p1.Wait(ctx(t, 5*time.Second)); err != nil || got[0].Str != "before" {
				t.Fatalf("p1: %v %v", got, err)
			}
			if n := s.Calls("echo"); n != 62 {
				t.Fatalf("server saw %d echo calls, want 62", n)
			}
		})
	}
}

// A stream that breaks while requests are in flight: the replies read
// before stay valid, the request whose reply was cut gets the I/O error,
// and the later ones get ErrAbandoned (safe to send again elsewhere).
func TestPipelineBrokenStream(t *testing.T) {
	_, addr := start(t, "unix", cutting)
	c := dial(t, addr)
	var ps []*binrpc.Pending
	for _, m := range []string{"echo", "cut", "echo", "echo"} {
		p, err := c.Send(ctx(t, 5*time.Second), m, m)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if _, err := ps[3].Wait(ctx(t, 5*time.Second)); !errors.Is(err, binrpc.ErrAbandoned) {
		t.Fatalf("after the cut: %v, want ErrAbandoned", err)
	}
	if got, err := ps[0].Wait(ctx(t, 5*time.Second)); err != nil || got[0].Str != "echo" {
		t.Fatalf("before the cut: %v %v", got, err)
	}
	_, err := ps[1].Wait(ctx(t, 5*time.Second))
	if err == nil || errors.Is(err, binrpc.ErrAbandoned) || !strings.Contains(err.Error(), "cut: read payload") {
		t.Fatalf("the cut reply: %v", err)
	}
	if _, err := ps[2].Wait(ctx(t, 5*time.Second)); !errors.Is(err, binrpc.ErrAbandoned) {
		t.Fatalf("after the cut: %v", err)
	}
	if _, err := c.Call(ctx(t, time.Second), "echo"); !errors.Is(err, binrpc.ErrClosed) {
		t.Fatalf("call on the broken connection: %v", err)
	}
}

// Thousands of small pipelined requests whose replies are large: the peer
// (like ctl) answers each request before it reads the next, and blocks
// while its replies are unread. Writing the requests one by one while
// replies pile up deadlocked (each small write takes ~1 KiB of socket
// buffer); batches written after the earlier replies were read do not.
func TestPipelineManySmallRequestsLargeReplies(t *testing.T) {
	blob := strings.Repeat("b", 4096)
	_, addr := start(t, "unix", func(r fakectl.Request) fakectl.Response {
		return fakectl.Response{Values: []binrpc.Value{binrpc.String(blob)}}
	})
	c := dial(t, addr)
	cx := ctx(t, 10*time.Second)
	var ps []*binrpc.Pending
	for i := range 3000 {
		p, err := c.Send(cx, "blob", i)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		got, err := p.Wait(cx)
		if err != nil || len(got) != 1 || got[0].Str != blob {
			t.Fatalf("wait %d: %v", i, err)
		}
	}
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// A unixd connection leaves nothing in the temporary directory. On Linux
// its reply socket is abstract: nothing is created there at all, and it
// works with TMPDIR pointing nowhere. The file fallback removes its
// directory on Close and when the dial fails.
func TestUnixgramLeavesNoFiles(t *testing.T) {
	_, addr := start(t, "unixgram", echo) // before TMPDIR changes
	absent := binrpc.Address{Network: "unixgram", Addr: filepath.Join(t.TempDir(), "absent")}
	modes := []bool{false}
	if runtime.GOOS == "linux" {
		modes = append(modes, true)
	}
	for _, abstract := range modes {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			defer binrpc.SetAbstractUnix(abstract)()
			// Not t.TempDir(): its long name would make the fallback's
			// socket path exceed the 108 bytes a unix address allows.
			tmp, err := os.MkdirTemp("", "t")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(tmp)
			t.Setenv("TMPDIR", tmp)
			c := dial(t, addr)
			if _, err := c.Call(ctx(t, 5*time.Second), "echo", 1); err != nil {
				t.Fatal(err)
			}
			open := entries(t, tmp)
			if abstract != (len(open) == 0) {
				t.Errorf("while a connection is open, TMPDIR holds %q", open)
			}
			c.Close()
			if left := entries(t, tmp); len(left) > 0 {
				t.Errorf("after Close, TMPDIR holds %q", left)
			}
			if c, err := binrpc.Dial(ctx(t, 5*time.Second), absent, binrpc.Options{}); err == nil {
				c.Close()
				t.Errorf("dial to %s succeeded", absent)
			}
			if left := entries(t, tmp); len(left) > 0 {
				t.Errorf("after a failed dial, TMPDIR holds %q", left)
			}
			if !abstract {
				return
			}
			t.Setenv("TMPDIR", filepath.Join(tmp, "absent"))
			c = dial(t, addr)
			if got, err := c.Call(ctx(t, 5*time.Second), "echo", 2); err != nil || len(got) != 1 || got[0].Int != 2 {
				t.Fatalf("with TMPDIR pointing nowhere: %v %v", got, err)
			}
		})
	}
}

// Replies are read as they come, not when they are waited for: ctl writes
// a reply with one non-blocking writev and drops what the socket buffer
// cannot take, so a reply written while the caller is busy with an earlier
// one must not wait in the socket. Here the server can answer "mark" only
// once its 4 MiB reply to "huge" is written, far more than a socket
// buffer holds: it must get there while the caller, done with "echo",
// has not waited for "huge" yet.
func TestStreamRepliesReadAhead(t *testing.T) {
	huge := strings.Repeat("h", 4<<20)
	var marked atomic.Bool
	for _, network := range []string{"unix", "tcp"} {
		marked.Store(false)
		_, addr := start(t, network, func(r fakectl.Request) fakectl.Response {
			switch r.Method {
			case "huge":
				return fakectl.Response{Values: []binrpc.Value{binrpc.String(huge)}}
			case "mark":
				marked.Store(true)
			}
			return echo(r)
		})
		c := dial(t, addr)
		cx := ctx(t, 10*time.Second)
		var ps []*binrpc.Pending
		for _, m := range []string{"echo", "huge", "mark"} {
			p, err := c.Send(cx, m)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		if _, err := ps[0].Wait(cx); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); !marked.Load() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // busy with the first reply
		}
		if !marked.Load() {
			t.Errorf("%s: the 4 MiB reply was not read while the caller was busy", network)
		}
		if got, err := ps[1].Wait(cx); err != nil || len(got) != 1 || got[0].Str != huge {
			t.Fatalf("%s: huge: %v", network, err)
		}
	}
}
