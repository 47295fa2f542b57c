package collector

import (
	"bufio"
	"compress/gzip"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Handler serves the exporter's metrics, merged with the families of
// others (the process, Go and version collectors, say).
//
// The text format (0.0.4), which Prometheus gets unless it asks for
// protobuf, is written straight from the scrape's compact page: no
// prometheus.Metric or dto.Metric is built per series, so a scrape of
// 110 000 series needs a few MB rather than the ~60 MB of the registry's
// path. Other formats go through a registry and promhttp with opts. Both
// answer as promhttp.HandlerFor does: same content negotiation, gzip, name[]
// filter, families sorted by name and series by label values.
func (e *Exporter) Handler(others prometheus.Gatherer, opts promhttp.HandlerOpts, logger *slog.Logger) http.Handler {
	return &handler{
		e:      e,
		others: others,
		logger: logger,
		// Built on the first request that needs it: /probe makes a handler
		// per request, and most take the text path.
		fallback: sync.OnceValue(func() http.Handler {
			own := prometheus.NewRegistry()
			own.MustRegister(e)
			return promhttp.HandlerFor(prometheus.Gatherers{others, own}, opts)
		}),
	}
}

type handler struct {
	e        *Exporter
	others   prometheus.Gatherer
	logger   *slog.Logger
	fallback func() http.Handler // the registry's path, for other formats
}

var (
	gzipWriters   = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	bufferWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() != expfmt.TypeTextPlain {
		h.fallback().ServeHTTP(w, r)
		return
	}
	p := h.e.sharedScrape()
	fams, err := h.others.Gather()
	if err != nil {
		h.logger.Error("error gathering metrics", "err", err)
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
	bw := bufferWriters.Get().(*bufio.Writer)
	defer bufferWriters.Put(bw)
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(gz)
		gz.Reset(w)
		defer gz.Close()
		bw.Reset(gz)
	} else {
		bw.Reset(w)
	}
	dropped, err := p.writeText(bw, fams, keep)
	bw.Reset(nil)
	if err != nil {
		h.logger.Debug("writing metrics failed", "err", err)
	}
	if len(dropped) > 0 {
		h.logger.Warn("dropped series of families exported twice", "count", len(dropped), "first", dropped[0])
	}
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
