package collector

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/kamailio-exporter/kamailio_exporter/internal/upstream"
)

// customCollector fetches Kamailio's own xhttp_prom page
// (--kamailio.custom-metrics-url) during the scrape, within its deadline,
// and appends its families to the exposition.
const customCollector = "custom_metrics"

// republished are the families that Kamailio's xhttp_prom module derives
// from values the exporter reads itself (with xhttp_prom_stats "all" on
// 6.x: tls.info's; with xhttp_prom_pkg_stats: pkg.stats'). The exporter's
// own series are kept; these copies are dropped without a warning, which is
// kept for collisions nobody expects (withCustom).
var republished = map[string]bool{
	"kamailio_tls_max_connections":               true,
	"kamailio_tls_opened_connections":            true,
	"kamailio_tls_clear_text_write_queued_bytes": true,
	"kamailio_pkgmem_used":                       true,
}

type customFetcher struct {
	url    string
	client *http.Client
	logger *slog.Logger
}

// start fetches the page in the background, within ctx, while the round
// runs. The function it returns waits for the fetch, adds its duration and
// success to own, and returns the families sorted by name. A nil
// customFetcher (no --kamailio.custom-metrics-url) fetches nothing.
func (f *customFetcher) start(ctx context.Context) func(own *Sink) []*dto.MetricFamily {
	if f == nil {
		return func(*Sink) []*dto.MetricFamily { return nil }
	}
	type fetched struct {
		fams []*dto.MetricFamily
		took time.Duration
		err  error
	}
	done := make(chan fetched, 1)
	go func() {
		begin := time.Now()
		fams, err := f.fetch(ctx)
		done <- fetched{fams, time.Since(begin), err}
	}()
	return func(own *Sink) []*dto.MetricFamily {
		r := <-done
		own.Add(durationDesc, r.took.Seconds(), customCollector)
		if r.err != nil {
			f.logger.Error("Scraping user defined metrics failed", "collector", customCollector, "url", upstream.Redact(f.url), "err", r.err)
			own.Add(successDesc, 0, customCollector)
			return nil
		}
		own.Add(successDesc, 1, customCollector)
		return r.fams
	}
}

// withCustom merges the xhttp_prom families of res into fams, both sorted
// by name; one whose name fams or the page holds is dropped, with a warning
// once per Kamailio run of e.
func (e *Exporter) withCustom(res *result, fams []*dto.MetricFamily, logger *slog.Logger) []*dto.MetricFamily {
	if len(res.custom) == 0 {
		return fams
	}
	taken := make(map[string]bool, len(res.page.Descs())+len(fams))
	for _, d := range res.page.Descs() {
		taken[d.Name()] = true
	}
	for _, f := range fams {
		taken[f.GetName()] = true
	}
	out := make([]*dto.MetricFamily, 0, len(fams)+len(res.custom))
	for _, f := range res.custom {
		if taken[f.GetName()] {
			e.run.warnOnce(logger, "custom collision\x00"+f.GetName(),
				"dropping user defined metric family that collides with an exporter family", "family", f.GetName())
		} else {
			out = append(out, f)
		}
	}
	out = append(out, fams...)
	slices.SortFunc(out, byName)
	return out
}

func (f *customFetcher) fetch(ctx context.Context) ([]*dto.MetricFamily, error) {
	body, status, _, err := upstream.Get(ctx, f.client, f.url)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d", status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	fams := make([]*dto.MetricFamily, 0, len(parsed))
	for _, fam := range parsed {
		if republished[fam.GetName()] {
			continue
		}
		for _, m := range fam.Metric {
			m.TimestampMs = nil // the scrape's time is the sample's time
		}
		if fam.GetHelp() == "" {
			fam.Help = proto.String("Metric " + fam.GetName() + " from Kamailio's xhttp_prom module.")
		}
		fams = append(fams, fam)
	}
	slices.SortFunc(fams, byName)
	return fams, nil
}

// byName orders families by name, as a Gatherer returns them.
func byName(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) }
