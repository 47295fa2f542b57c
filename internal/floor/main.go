// Command floor measures Kamailio's own answer time for a list of RPCs, the
// floor the exporter's scrape is compared with (scripts/bench-scrape.sh):
// over one connection, it sends each request and reads its whole reply
// before the next, as kamcmd does, but decodes nothing and prints nothing
// (kamcmd cannot take replies of a large instance: "reply too big").
// With -pipelined it writes all the requests of a round at once, then reads
// the replies, as the exporter sends them: Kamailio's time without the
// round trips.
//
//	go run ./internal/floor -uri unix:///path/kamailio_ctl -rounds 40 < rpcs
//
// Each line of stdin is one RPC: a method and its string arguments. It
// prints the median time per round in seconds.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

func main() {
	uri := flag.String("uri", "", "ctl socket (unix:// or tcp://)")
	rounds := flag.Int("rounds", 40, "rounds of all the RPCs")
	pipelined := flag.Bool("pipelined", false, "write a round's requests at once, then read the replies")
	flag.Parse()
	if err := run(*uri, *rounds, *pipelined, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(uri string, rounds int, pipelined bool, in io.Reader, out io.Writer) error {
	addr, err := binrpc.ParseURI(uri)
	if err != nil {
		return err
	}
	if !addr.Stream() {
		return fmt.Errorf("%s: a stream socket (unix or tcp) is needed", uri)
	}
	var reqs [][]byte
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		args := make([]any, len(f)-1)
		for i, a := range f[1:] {
			args[i] = a
		}
		req, err := binrpc.AppendRequest(nil, uint32(len(reqs)+1), f[0], args...)
		if err != nil {
			return err
		}
		reqs = append(reqs, req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, addr.Network, addr.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	r := bufio.NewReaderSize(c, 64<<10)
	per := make([]time.Duration, 0, rounds)
	all := slices.Concat(reqs...)
	for range rounds {
		begin := time.Now()
		if pipelined {
			if _, err := c.Write(all); err != nil {
				return err
			}
		}
		for _, req := range reqs {
			if !pipelined {
				if _, err := c.Write(req); err != nil {
					return err
				}
			}
			h, err := binrpc.ReadHeader(r, 64<<20)
			if err != nil {
				return err
			}
			if _, err := r.Discard(h.Length); err != nil {
				return err
			}
		}
		per = append(per, time.Since(begin))
	}
	slices.Sort(per)
	fmt.Fprintf(out, "%.6f\n", per[len(per)/2].Seconds())
	return nil
}
