package binrpc_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
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
