// Command fakekamailio serves synthetic Kamailio instances on BINRPC
// sockets for a bounded time, so that an exporter process can be measured
// against them (scripts/bench-rss.sh, scripts/bench-fleet.sh).
//
// By default it serves one instance on a unix socket and prints its URI and
// size. With -fleet N it serves a fleet on 127.0.0.1 over TCP: N instances
// that answer, -silent of them that accept and never answer, and -dead
// ports where nothing listens; it writes one line per target, "URI kind",
// to -targets, and serves its counts (accepted connections and discoveries
// of the answering instances) as JSON on -stats-addr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

func main() {
	pct := flag.Int("scale", 100, "instance size in percent of the large instance (100 = 256 processes, 10 000 destinations, 500 htables, 5 000 statistics, 1 000 profiles)")
	life := flag.Duration("duration", 2*time.Minute, "serve this long, then exit")
	fleet := flag.Int("fleet", 0, "serve this many answering instances over TCP instead of one on a unix socket")
	silent := flag.Int("silent", 0, "with -fleet: instances that accept and never answer")
	dead := flag.Int("dead", 0, "with -fleet: ports where nothing listens")
	targets := flag.String("targets", "", "with -fleet: file to write the targets to, one \"URI kind\" per line")
	statsAddr := flag.String("stats-addr", "127.0.0.1:0", "with -fleet: loopback address of the JSON counts")
	flag.Parse()
	inst := synthetic.Scaled(*pct)
	replies, err := inst.Replies()
	if err != nil {
		fail(err)
	}
	if *fleet == 0 {
		s, err := fakectl.Start("unix", synthetic.Handler(replies))
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s items=%d profiles=%d\n", s.URI(), inst.Items(), inst.Profiles)
		time.Sleep(*life)
		s.Close()
		return
	}
	var lines []string
	var live []*fakectl.Server
	for range *fleet {
		s, err := fakectl.Start("tcp", synthetic.Handler(replies))
		if err != nil {
			fail(err)
		}
		defer s.Close()
		live = append(live, s)
		lines = append(lines, s.URI()+" live")
	}
	for range *silent {
		s, err := fakectl.Start("tcp", func(fakectl.Request) fakectl.Response { return fakectl.Response{Silent: true} })
		if err != nil {
			fail(err)
		}
		defer s.Close()
		lines = append(lines, s.URI()+" silent")
	}
	// Every dead port is held until all are chosen, so that no two are
	// the same port.
	var held []net.Listener
	for range *dead {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail(err)
		}
		held = append(held, l)
		lines = append(lines, "tcp://"+l.Addr().String()+" dead")
	}
	for _, l := range held {
		l.Close()
	}
	if err := os.WriteFile(*targets, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		fail(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var c struct{ Accepts, Discoveries int }
		for _, s := range live {
			c.Accepts += s.Accepts()
			c.Discoveries += s.Calls("system.listMethods")
		}
		json.NewEncoder(w).Encode(c)
	}))
	fmt.Printf("http://%s targets=%d items=%d\n", ln.Addr(), len(lines), inst.Items())
	time.Sleep(*life)
	ln.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
