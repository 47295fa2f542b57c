package collector

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/internal/page"
)

const namespace = "kamailio"

// reserved holds the names of all static families. It is written only
// while package-level variables initialise and is read-only afterwards, so
// names built from Kamailio data can be checked against it without locks.
var reserved = map[string]bool{}

// newDesc declares a static family. Call it only from package-level var
// declarations.
func newDesc(name, help string, typ prometheus.ValueType, labels ...string) *page.Desc {
	if reserved[name] {
		panic("collector: family declared twice: " + name)
	}
	reserved[name] = true
	return page.NewDesc(name, help, typ, labels...)
}

// Sink collects one collector's samples during a scrape, into the scrape's
// page. Nothing reaches the exposition unless the collector returns without
// error: a failed collector's samples are cut off the page again.
type Sink struct {
	logger *slog.Logger
	descs  *descCache   // nil: build descriptors every time
	run    *kamailioRun // the exporter's, or one of the sink's own
	out    *page.Page
	start  page.Mark // the page when the collector started
}

// warnOnce logs msg as a warning the first time key is seen in this
// Kamailio run.
func (s *Sink) warnOnce(key, msg string, attrs ...any) { s.run.warnOnce(s.logger, key, msg, attrs...) }

func newSink(logger *slog.Logger, p *page.Page) *Sink {
	if p == nil {
		p = &page.Page{}
	}
	return &Sink{logger: logger, run: &kamailioRun{}, out: p, start: p.Mark()}
}

// discard removes everything the sink added from its page.
func (s *Sink) discard() { s.out.Truncate(s.start) }

// Add records one sample of d with the given label values.
func (s *Sink) Add(d *page.Desc, v float64, labelValues ...string) { s.out.Add(d, v, labelValues...) }
