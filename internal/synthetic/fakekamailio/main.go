// Command fakekamailio serves a synthetic Kamailio instance on a BINRPC
// unix socket for a bounded time, so that an exporter process can be
// measured against it (scripts/bench-rss.sh). It prints the socket's URI
// and the instance's size on stdout.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

func main() {
	pct := flag.Int("scale", 100, "instance size in percent of the large instance (100 = 256 processes, 10 000 destinations, 500 htables, 5 000 statistics, 1 000 profiles)")
	life := flag.Duration("duration", 2*time.Minute, "serve this long, then exit")
	flag.Parse()
	inst := synthetic.Scaled(*pct)
	replies, err := inst.Replies()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := fakectl.Start("unix", synthetic.Handler(replies))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s items=%d profiles=%d\n", s.URI(), inst.Items(), inst.Profiles)
	time.Sleep(*life)
	s.Close()
}
