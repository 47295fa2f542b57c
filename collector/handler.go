package collector

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Handler serves the exporter's metrics, merged with the families of
// others (the process, Go and version collectors, say).
//
// The text format (0.0.4), which Prometheus gets unless it asks for
// protobuf, is written straight from the scrape's page: no
// prometheus.Metric or dto.Metric is built per series. Other formats go
// through promhttp with opts. Both answer as promhttp.HandlerFor does: same
// content negotiation, gzip, name[] filter, families sorted by name and
// series by label values.
//
// The scrape is bounded by the exporter's timeout, or by Prometheus's
// X-Prometheus-Scrape-Timeout-Seconds less half a second when that is
// shorter.
func (e *Exporter) Handler(others prometheus.Gatherer, opts promhttp.HandlerOpts, logger *slog.Logger) http.Handler {
	return &handler{e: e, others: others, opts: opts, logger: logger}
}

type handler struct {
	e      *Exporter
	others prometheus.Gatherer
	opts   promhttp.HandlerOpts
	logger *slog.Logger
}

// scrapeTimeoutOffset is taken off Prometheus's scrape timeout, for the
// network and the writing of the page.
const scrapeTimeoutOffset = 500 * time.Millisecond

// scrapeContext bounds a scrape by Prometheus's scrape timeout when it is
// shorter than the exporter's.
func (h *handler) scrapeContext(r *http.Request) (context.Context, context.CancelFunc) {
	if v, err := strconv.ParseFloat(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64); err == nil {
		if d := time.Duration(v*float64(time.Second)) - scrapeTimeoutOffset; d > 0 && d < h.e.timeout {
			return context.WithTimeout(context.Background(), d)
		}
	}
	return context.WithCancel(context.Background())
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.scrapeContext(r)
	defer cancel()
	// The other families (the process collector reads /proc) are gathered
	// while Kamailio answers.
	type gathered struct {
		fams []*dto.MetricFamily
		err  error
	}
	others := make(chan gathered, 1)
	go func() {
		fams, err := h.others.Gather()
		others <- gathered{fams, err}
	}()
	res, shared := h.e.sharedScrape(ctx)
	p := res.page
	if !shared {
		// No other request writes it: its buffers serve the next scrape.
		defer p.Release()
	}
	g := <-others
	fams := h.e.withCustom(res, g.fams, h.logger)
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() != expfmt.TypeTextPlain {
		promhttp.HandlerFor(prometheus.Gatherers{
			prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return fams, g.err }),
			prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return p.Families(), nil }),
		}, h.opts).ServeHTTP(w, r)
		return
	}
	if g.err != nil {
		h.logger.Error("error gathering metrics", "err", g.err)
	}
	var keep map[string]bool
	if names := r.URL.Query()["name[]"]; len(names) > 0 {
		keep = make(map[string]bool, len(names))
		for _, n := range names {
			keep[n] = true
		}
	}
	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := getGzip(w)
		defer putGzip(gz)
		defer gz.Close()
		out = gz
	}
	bw := getBuffered(out)
	defer putBuffered(bw)
	dropped, err := p.WriteText(bw, fams, keep)
	if err != nil {
		h.logger.Debug("writing metrics failed", "err", err)
	}
	if len(dropped) > 0 {
		h.e.run.warnOnce(h.logger, "exported twice\x00"+dropped[0], "dropped series of families exported twice", "count", len(dropped), "first", dropped[0])
	}
}

// gzipWriters keeps a few gzip writers from scrape to scrape. Not a
// sync.Pool: that loses them at every garbage collection, and a new writer
// costs more than compressing a page (BENCHMARKS.md, compression).
var gzipWriters = make(chan *gzip.Writer, 2)

func getGzip(w io.Writer) *gzip.Writer {
	select {
	case gz := <-gzipWriters:
		gz.Reset(w)
		return gz
	default:
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		return gz
	}
}

func putGzip(gz *gzip.Writer) {
	select {
	case gzipWriters <- gz:
	default:
	}
}

// buffered keeps the writers that gather a page's lines into writes of
// 32 KiB, from scrape to scrape.
var buffered = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

func getBuffered(w io.Writer) *bufio.Writer {
	bw := buffered.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putBuffered(bw *bufio.Writer) {
	bw.Reset(nil)
	buffered.Put(bw)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: it
// names gzip or * without q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}
