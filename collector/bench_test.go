package collector

import (
	"compress/gzip"
	"io"

	"context"
	kgzip "github.com/klauspost/compress/gzip"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/prometheus/common/promslog"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
	"github.com/kamailio-exporter/kamailio_exporter/internal/synthetic"
)

// recordedCaller decodes the recorded reply of each request, as a real
// call would, so a benchmark measures decode + convert.
type recordedCaller struct {
	recs map[string]fakectl.Recording
}

// key names the recording of a request, as requestKey does.
func (recordedCaller) key(method string, args []any) string {
	key := method
	for _, a := range args {
		if s, ok := a.(string); ok {
			key += "_" + strings.ReplaceAll(s, ":", "")
		}
	}
	return key
}

// missing returns the first of c's requests that has no recording ("": none).
func (r recordedCaller) missing(c *collector) string {
	for _, req := range c.requests(&testSettings, &kamailioRun{}) {
		key := r.key(req.Method, req.Args)
		if _, ok := r.recs[key]; !ok {
			return key
		}
	}
	return ""
}

func (r recordedCaller) CallEncoded(ctx context.Context, method string, args ...any) ([]binrpc.Value, error) {
	return r.Call(ctx, method, args...)
}

func (r recordedCaller) Call(_ context.Context, method string, args ...any) ([]binrpc.Value, error) {
	rec, ok := r.recs[r.key(method, args)]
	if !ok {
		return nil, &binrpc.FaultError{Method: method, Code: 500, Message: "command " + method + " not found"}
	}
	vals, err := binrpc.DecodePayload(rec.Payload)
	if err != nil || rec.Type != binrpc.TypeFault {
		return vals, err
	}
	f := &binrpc.FaultError{Method: method}
	if len(vals) == 2 {
		f.Code = int(vals[0].Int)
		f.Message, _ = vals[1].Text()
	}
	return nil, f
}

// BenchmarkCollectors reports, per collector, the cost of decoding the
// recorded reply of a real Kamailio and converting it into samples. A
// collector whose replies were not recorded is skipped.
func BenchmarkCollectors(b *testing.B) {
	caller := recordedCaller{recs: loadRecordings(b)}
	logger := promslog.NewNopLogger()
	var descs descCache // as an exporter keeps it between scrapes
	for _, c := range collectors {
		b.Run(c.name, func(b *testing.B) {
			if key := caller.missing(c); key != "" {
				b.Skipf("no %s.bin in %s (scripts/record-replies.sh RUNDIR %s records it)", key, filepath.Join(recordingsDir, defaultRelease), key)
			}
			b.ReportAllocs()
			for b.Loop() {
				s := newSink(logger, nil)
				s.descs = &descs
				if err := c.update(context.Background(), caller, &testSettings, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScrapeHTTP is one whole scrape as Prometheus sees it: the
// exporter's handler, as main serves it, against the fake ctl server
// replaying the recorded replies over a unix socket (so Kamailio's own time
// is nearly zero and the exporter's cost shows). The text page is written
// from the scrape's compact page; "protobuf" goes through promhttp.
func BenchmarkScrapeHTTP(b *testing.B) {
	s := replay(b, "unix", nil)
	e := newTestExporter(b, s, 5*time.Second)
	h := e.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}, promslog.NewNopLogger())
	for _, name := range []string{"text", "text+gzip", "protobuf"} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/metrics", nil)
			// Prometheus's Accept header, or the one it sends for protobuf.
			req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
			if name == "protobuf" {
				req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,*/*;q=0.1")
			}
			if strings.HasSuffix(name, "gzip") {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 || rec.Body.Len() < 5000 {
					b.Fatal(rec.Code, rec.Body.Len())
				}
			}
		})
	}
}

// BenchmarkCompress compares the gzip writers for the handler at level 1
// (BestSpeed), on the text page of the recorded test Kamailio and of the
// production-sized synthetic instance, with a writer reused from scrape to
// scrape as the handler's pool does.
func BenchmarkCompress(b *testing.B) {
	pages := map[string][]byte{
		"test":       textPage(b, newTestExporter(b, replay(b, "unix", nil), 10*time.Second)),
		"production": textPage(b, syntheticExporter(b, synthetic.Production, nil)),
	}
	for name, page := range pages {
		std, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		kp, _ := kgzip.NewWriterLevel(io.Discard, kgzip.BestSpeed)
		for wname, w := range map[string]interface {
			io.WriteCloser
			Reset(io.Writer)
		}{"stdlib": std, "klauspost": kp} {
			b.Run(name+"/"+wname, func(b *testing.B) {
				b.SetBytes(int64(len(page)))
				b.ReportAllocs()
				for b.Loop() {
					w.Reset(io.Discard)
					w.Write(page)
					w.Close()
				}
			})
		}
	}
}

// textPage scrapes e and returns its text page.
func textPage(b *testing.B, e *Exporter) []byte {
	rec := httptest.NewRecorder()
	e.Handler(prometheus.NewRegistry(), promhttp.HandlerOpts{}, promslog.NewNopLogger()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.Bytes()
}

// BenchmarkGzipWriterNew is the cost of a new gzip writer, which a scrape
// pays whenever the pool has lost its writers to a garbage collection.
func BenchmarkGzipWriterNew(b *testing.B) {
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			w.Close()
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w, _ := kgzip.NewWriterLevel(io.Discard, kgzip.BestSpeed)
			w.Close()
		}
	})
}
