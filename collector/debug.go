package collector

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

// DebugScrape scrapes the Kamailio at addr once, for an operator who asks
// why a target is down (/probe?debug=true, as blackbox_exporter answers
// it): on a connection and with a state of its own, so that the kept
// target's counters and connection are left alone. It writes, as text, the
// scrape's log lines (debug level), each RPC with the collector that made
// it, its result and the time its call took, and the metrics the scrape
// would have returned.
func DebugScrape(ctx context.Context, w io.Writer, addr binrpc.Address, timeout time.Duration, settings Settings, sel Selection) error {
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := NewExporter(addr, timeout, settings, sel, logger)
	defer e.Close()
	e.trace = &trace{}
	res := e.scrape(ctx)
	mu.Lock()
	defer mu.Unlock()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Probe of %s (timeout %s)\n\nLogs of the probe:\n%s\nRPCs, in the order the collectors took their replies:\n", addr, timeout, logs.String())
	for _, c := range e.trace.calls {
		fmt.Fprintf(bw, "  %-22s %-22s %-30s %8.3f ms  %s\n", c.collector, c.method, fmt.Sprint(c.args...), c.took.Seconds()*1000, c.result)
	}
	fmt.Fprintf(bw, "\nMetrics the probe returns:\n")
	if _, err := res.page.WriteText(bw, res.custom, nil); err != nil {
		return err
	}
	return bw.Flush()
}

// trace records the RPCs of a scrape.
type trace struct {
	mu    sync.Mutex
	calls []tracedCall
}

type tracedCall struct {
	collector, method string
	args              []any
	took              time.Duration
	result            string
}

// traced returns c, recording its calls under collector when e traces.
func (e *Exporter) traced(c Caller, collector string) Caller {
	if e.trace == nil {
		return c
	}
	return &tracingCaller{c: c, collector: collector, t: e.trace}
}

type tracingCaller struct {
	c         Caller
	collector string
	t         *trace
}

func (tc *tracingCaller) Call(ctx context.Context, method string, args ...any) ([]binrpc.Value, error) {
	return tc.record(method, args, func() ([]binrpc.Value, error) { return tc.c.Call(ctx, method, args...) })
}

func (tc *tracingCaller) CallEncoded(ctx context.Context, method string, args ...any) ([]binrpc.Value, error) {
	return tc.record(method, args, func() ([]binrpc.Value, error) { return tc.c.CallEncoded(ctx, method, args...) })
}

func (tc *tracingCaller) record(method string, args []any, call func() ([]binrpc.Value, error)) ([]binrpc.Value, error) {
	begin := time.Now()
	vals, err := call()
	result := fmt.Sprintf("ok: %s", shape(vals))
	if err != nil {
		result = "error: " + err.Error()
	}
	tc.t.mu.Lock()
	tc.t.calls = append(tc.t.calls, tracedCall{tc.collector, method, args, time.Since(begin), result})
	tc.t.mu.Unlock()
	return vals, err
}

// lockedWriter writes to w under mu, for a logger whose lines come from
// several goroutines (the xhttp_prom fetch logs from its own).
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
