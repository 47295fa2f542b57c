package collector

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "kamailio"

// Desc describes one metric family the exporter emits.
type Desc struct {
	// shared marks a family that more than one collector may fill with
	// the same series; the first sample wins and the others are expected.
	shared bool
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
	// order lists the indexes in labels in label name order, the order of
	// the exposition.
	order []int
}

// reserved holds the names of all static families. It is written only
// while package-level variables initialise and is read-only afterwards, so
// names built from Kamailio data can be checked against it without locks.
var reserved = map[string]bool{}

// newDesc declares a static family. Call it only from package-level var
// declarations.
func newDesc(name, help string, typ prometheus.ValueType, labels ...string) *Desc {
	if reserved[name] {
		panic("collector: family declared twice: " + name)
	}
	reserved[name] = true
	return makeDesc(name, help, typ, labels...)
}

// sharedDesc marks d as a family that several collectors fill with the
// same series: the first sample of a series wins, quietly.
func sharedDesc(d *Desc) *Desc {
	d.shared = true
	return d
}

func makeDesc(name, help string, typ prometheus.ValueType, labels ...string) *Desc {
	d := &Desc{name: name, help: help, typ: typ, labels: labels}
	d.order = make([]int, len(labels))
	for i := range d.order {
		d.order[i] = i
	}
	slices.SortFunc(d.order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return d
}

// Sink collects one collector's samples during a scrape, into the scrape's
// page. Nothing reaches the exposition unless the collector returns without
// error: a failed collector's samples are cut off the page again.
type Sink struct {
	logger *slog.Logger
	descs  *descCache   // nil: build descriptors every time
	run    *kamailioRun // the exporter's, or one of the sink's own
	page   *page
	start  mark // the page when the collector started
}

// warnOnce logs msg as a warning the first time key is seen in this
// Kamailio run.
func (s *Sink) warnOnce(key, msg string, attrs ...any) {
	if s.logger != nil && s.run.learn("log\x00"+key) {
		s.logger.Warn(msg, attrs...)
	}
}

func newSink(logger *slog.Logger, p *page) *Sink {
	if p == nil {
		p = &page{}
	}
	return &Sink{logger: logger, run: &kamailioRun{}, page: p, start: p.mark()}
}

// discard removes everything the sink added from its page.
func (s *Sink) discard() { s.page.truncate(s.start) }

// drop reports a series left out as invalid, for the log.
func (s *Sink) drop(why string) { s.page.dropped = append(s.page.dropped, why) }

// Add records one sample of d with the given label values.
func (s *Sink) Add(d *Desc, v float64, labelValues ...string) {
	if len(labelValues) != len(d.labels) {
		// A programming error: report it through the scrape rather than panic.
		s.drop(fmt.Sprintf("%s: %d label values for %d labels", d.name, len(labelValues), len(d.labels)))
		return
	}
	if !s.page.add(d, v, labelValues) {
		s.drop(d.name + ": the scrape's label values exceed 4 GiB")
	}
}

func sameFamily(a, b *Desc) bool {
	return a.help == b.help && a.typ == b.typ && slices.Equal(a.labels, b.labels)
}
