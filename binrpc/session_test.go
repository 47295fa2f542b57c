package binrpc_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// A session's calls take the replies of the requests sent ahead (by method
// and arguments, in any order); a call not sent ahead is sent then; a reply
// cut by a broken connection costs that call only: the requests after it
// are asked again on a new connection.
func TestSessionTakesRepliesSentAhead(t *testing.T) {
	srv, addr := start(t, "unix", cutting)
	s := binrpc.NewSession(addr, nil)
	defer s.Close()
	s.Send(ctx(t, 5*time.Second), []binrpc.Request{
		{Method: "echo", Args: []any{"a"}}, {Method: "echo", Args: []any{"b"}}, {Method: "cut"}, {Method: "echo", Args: []any{"c"}},
	})
	for _, arg := range []string{"b", "a"} {
		if got, err := s.Call(ctx(t, 5*time.Second), "echo", arg); err != nil || got[0].Str != arg {
			t.Fatalf("echo %s: %v %v", arg, got, err)
		}
	}
	if _, err := s.Call(ctx(t, 5*time.Second), "cut"); err == nil || !strings.Contains(err.Error(), "read payload") {
		t.Fatalf("cut: %v", err)
	}
	if got, err := s.Call(ctx(t, 5*time.Second), "echo", "c"); err != nil || got[0].Str != "c" {
		t.Fatalf("echo c after the cut: %v %v", got, err)
	}
	if got, err := s.Call(ctx(t, 5*time.Second), "echo", "d"); err != nil || got[0].Str != "d" {
		t.Fatalf("echo d, not sent ahead: %v %v", got, err)
	}
	if n := srv.Calls("echo"); n != 4 {
		t.Fatalf("%d echo requests, want 4 (a, b, c again, d)", n)
	}
	if n := srv.Accepts(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// Receive returns once every reply sent ahead has been read, the last one
// late: the calls then take them although the connection is gone.
func TestSessionReceive(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		srv, addr := start(t, network, func(r fakectl.Request) fakectl.Response {
			if r.Method == "slow" {
				time.Sleep(100 * time.Millisecond)
				return fakectl.Response{Values: r.Args}
			}
			return echo(r)
		})
		s := binrpc.NewSession(addr, nil)
		defer s.Close()
		s.Send(ctx(t, 5*time.Second), []binrpc.Request{{Method: "echo", Args: []any{"a"}}, {Method: "slow", Args: []any{"b"}}})
		s.Receive(ctx(t, 5*time.Second))
		srv.DropConns()
		for _, m := range []string{"slow", "echo"} {
			if _, err := s.Call(ctx(t, 5*time.Second), m, map[string]any{"slow": "b", "echo": "a"}[m]); err != nil {
				t.Fatalf("%s: %s: %v", network, m, err)
			}
		}
		if n := srv.Accepts(); n != 1 {
			t.Errorf("%s: %d connections, want 1: the replies were not read by Receive", network, n)
		}
	}
}

// A reply whose bytes stop before its end was cut by ctl (it drops what
// the socket cannot take): the call fails with ErrCut after a short stall,
// not at the deadline, and a session asks again on a new connection.
func TestCutReplyAskedAgain(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		var cut atomic.Bool
		srv, addr := start(t, network, func(r fakectl.Request) fakectl.Response {
			return repeated(r, "x", 1000, cut.CompareAndSwap(false, true))
		})
		begin := time.Now()
		_, err := dial(t, addr).Call(ctx(t, 10*time.Second), "big")
		if !errors.Is(err, binrpc.ErrCut) || time.Since(begin) > 5*time.Second {
			t.Fatalf("%s: a stalled reply: %v after %v, want ErrCut soon", network, err, time.Since(begin))
		}
		cut.Store(false)
		s := binrpc.NewSession(addr, nil)
		defer s.Close()
		s.Send(ctx(t, 10*time.Second), []binrpc.Request{{Method: "big"}})
		got, err := s.Call(ctx(t, 10*time.Second), "big")
		if err != nil || len(got) != 1 || len(got[0].Str) != 1000 {
			t.Fatalf("%s: session: %v %v", network, got, err)
		}
		if n := srv.Accepts(); n != 3 {
			t.Errorf("%s: %d connections, want 3 (the conn's, the session's cut one, the one asked again)", network, n)
		}
	}
}

// A cut reply followed by more replies reads as whole: the bytes of the
// replies after it fill its length, and the next header falls inside
// one of them. That header, not the cut reply, is malformed: the cut reply
// is asked again too, never returned spliced.
func TestSplicedReplyAskedAgain(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		var cut atomic.Bool
		srv, addr := start(t, network, func(r fakectl.Request) fakectl.Response {
			return repeated(r, r.Method, 1000, r.Method == "a" && cut.CompareAndSwap(false, true))
		})
		s := binrpc.NewSession(addr, nil)
		defer s.Close()
		s.Send(ctx(t, 10*time.Second), []binrpc.Request{{Method: "a"}, {Method: "b"}, {Method: "c"}})
		s.Receive(ctx(t, 10*time.Second))
		for _, m := range []string{"a", "b", "c"} {
			got, err := s.Call(ctx(t, 10*time.Second), m)
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: %s: %d values, %v", network, m, len(got), err)
			}
			if got[0].Str != strings.Repeat(m, 1000) {
				t.Fatalf("%s: %s: %q, spliced", network, m, got[0].Str)
			}
		}
		if n := srv.Calls("a"); n != 2 {
			t.Errorf("%s: a asked %d times, want 2", network, n)
		}
	}
}

// A session that cannot dial says that no reply came; a fault is a reply.
func TestSessionNoReply(t *testing.T) {
	_, addr := start(t, "unix", echo)
	s := binrpc.NewSession(addr, nil)
	_, err := s.Call(ctx(t, 5*time.Second), "nosuch")
	if err == nil || binrpc.NoReply(err) {
		t.Fatalf("fault: %v, NoReply %v", err, binrpc.NoReply(err))
	}
	s.Close()
	gone := binrpc.NewSession(binrpc.Address{Network: "unix", Addr: t.TempDir() + "/none"}, nil)
	if _, err := gone.Call(ctx(t, 5*time.Second), "echo"); !binrpc.NoReply(err) {
		t.Fatalf("no socket: %v, NoReply false", err)
	}
}

// End reads the replies nobody took and hands back the connection, which a
// KeptConn keeps for the next session; a connection with a request in
// flight is closed instead.
func TestKeptConnReusesIdleConnection(t *testing.T) {
	srv, addr := start(t, "unix", echo)
	var k binrpc.KeptConn
	defer k.Close()
	for range 3 {
		s := binrpc.NewSession(addr, k.Take())
		s.Send(ctx(t, 5*time.Second), []binrpc.Request{{Method: "echo", Args: []any{"x"}}, {Method: "echo", Args: []any{"untaken"}}})
		if _, err := s.Call(ctx(t, 5*time.Second), "echo", "x"); err != nil {
			t.Fatal(err)
		}
		k.Put(s.End(ctx(t, 5*time.Second)))
	}
	if n := srv.Accepts(); n != 1 {
		t.Fatalf("%d connections for three sessions, want 1", n)
	}
	k.Take().Close() // room for another
	busy := dial(t, addr)
	if _, err := busy.Send(ctx(t, 5*time.Second), "echo", "pending"); err != nil {
		t.Fatal(err)
	}
	k.Put(busy) // refused: a reply is still expected
	if _, err := busy.Call(ctx(t, time.Second), "echo"); !errors.Is(err, binrpc.ErrClosed) {
		t.Fatalf("busy connection kept: %v", err)
	}
}
