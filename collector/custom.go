package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
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
// kept for collisions nobody expects (handler.withCustom).
var republished = map[string]bool{
	"kamailio_tls_max_connections":               true,
	"kamailio_tls_opened_connections":            true,
	"kamailio_tls_clear_text_write_queued_bytes": true,
	"kamailio_pkgmem_used":                       true,
}

type customFetcher struct {
	url    string
	client *http.Client
}

func newCustomFetcher(url string) *customFetcher {
	return &customFetcher{url: url, client: &http.Client{}}
}

// customResult is a fetch's outcome: the families sorted by name.
type customResult struct {
	families []*dto.MetricFamily
	duration time.Duration
	err      error
}

// start fetches the page in the background, within ctx.
func (f *customFetcher) start(ctx context.Context) <-chan customResult {
	out := make(chan customResult, 1)
	go func() {
		begin := time.Now()
		fams, err := f.fetch(ctx)
		out <- customResult{fams, time.Since(begin), err}
	}()
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
	sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
	return fams, nil
}
