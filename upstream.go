package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// maxUpstreamBody caps what is read from an xhttp_prom or rtpengine page.
const maxUpstreamBody = 32 << 20

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL", raw)
	}
	return nil
}

// customMetricsGatherer merges Kamailio's own xhttp_prom page into ours.
// The fetch is bounded by the scrape timeout; its outcome is reported as
// kamailio_scrape_collector_{success,duration_seconds}{collector="custom_metrics"}.
// A family whose name we already export is dropped with a warning.
type customMetricsGatherer struct {
	ours    prometheus.Gatherer
	url     string
	timeout time.Duration
	client  *http.Client
	logger  *slog.Logger
}

const customCollector = "custom_metrics"

// republished are the families that Kamailio's xhttp_prom module derives
// from values the exporter reads itself (with xhttp_prom_stats "all" on
// 6.x: tls.info's; with xhttp_prom_pkg_stats: pkg.stats'). The exporter's
// own series are kept; these copies are dropped without a warning, which is
// kept for collisions nobody expects.
var republished = map[string]bool{
	"kamailio_tls_max_connections":               true,
	"kamailio_tls_opened_connections":            true,
	"kamailio_tls_clear_text_write_queued_bytes": true,
	"kamailio_pkgmem_used":                       true,
}

func newCustomMetricsGatherer(ours prometheus.Gatherer, url string, timeout time.Duration, logger *slog.Logger) *customMetricsGatherer {
	return &customMetricsGatherer{ours: ours, url: url, timeout: timeout, client: &http.Client{}, logger: logger}
}

func (g *customMetricsGatherer) Gather() ([]*dto.MetricFamily, error) {
	ours, gatherErr := g.ours.Gather()
	begin := time.Now()
	theirs, err := g.fetch()
	success := 1.0
	if err != nil {
		success = 0
		g.logger.Error("Scraping user defined metrics failed", "collector", customCollector, "url", g.url, "err", err)
	}
	byName := make(map[string]*dto.MetricFamily, len(ours))
	for _, f := range ours {
		byName[f.GetName()] = f
	}
	ours = addScrapeSample(ours, byName, "kamailio_scrape_collector_success", "kamailio_exporter: Whether a collector succeeded.", success)
	ours = addScrapeSample(ours, byName, "kamailio_scrape_collector_duration_seconds", "kamailio_exporter: Duration of a collector scrape.", time.Since(begin).Seconds())
	for _, f := range theirs {
		if republished[f.GetName()] {
			g.logger.Debug("dropping xhttp_prom's copy of an exporter family", "family", f.GetName())
			continue
		}
		if _, clash := byName[f.GetName()]; clash {
			g.logger.Warn("dropping user defined metric family that collides with an exporter family", "family", f.GetName())
			continue
		}
		for _, m := range f.Metric {
			m.TimestampMs = nil // the scrape's time is the sample's time
		}
		if f.GetHelp() == "" {
			f.Help = proto.String("Metric " + f.GetName() + " from Kamailio's xhttp_prom module.")
		}
		ours = append(ours, f)
	}
	sort.Slice(ours, func(i, j int) bool { return ours[i].GetName() < ours[j].GetName() })
	return ours, gatherErr
}

func (g *customMetricsGatherer) fetch() (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	body, status, _, err := httpGet(ctx, g.client, g.url)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d", status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return fams, nil
}

func addScrapeSample(fams []*dto.MetricFamily, byName map[string]*dto.MetricFamily, name, help string, v float64) []*dto.MetricFamily {
	f, ok := byName[name]
	if !ok {
		f = &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
		byName[name] = f
		fams = append(fams, f)
	}
	f.Metric = append(f.Metric, &dto.Metric{
		Label: []*dto.LabelPair{{Name: proto.String("collector"), Value: proto.String(customCollector)}},
		Gauge: &dto.Gauge{Value: proto.Float64(v)},
	})
	return fams
}

// httpGet fetches url within ctx, reading at most maxUpstreamBody bytes.
func httpGet(ctx context.Context, c *http.Client, url string) (body []byte, status int, contentType string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	if err != nil {
		return nil, 0, "", fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxUpstreamBody {
		return nil, 0, "", fmt.Errorf("body larger than %d bytes", maxUpstreamBody)
	}
	return body, resp.StatusCode, resp.Header.Get("Content-Type"), nil
}

// rtpProxy serves rtpengine's own metrics page, fetched within the timeout,
// with the upstream status and content type.
type rtpProxy struct {
	url     string
	timeout time.Duration
	client  *http.Client
	logger  *slog.Logger
}

func newRTPProxy(url string, timeout time.Duration, logger *slog.Logger) *rtpProxy {
	return &rtpProxy{url: url, timeout: timeout, client: &http.Client{}, logger: logger}
}

func (p *rtpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	body, status, ctype, err := httpGet(ctx, p.client, p.url)
	if err != nil {
		p.logger.Error("Failed to fetch rtpengine metrics", "url", p.url, "err", err)
		http.Error(w, "Failed to fetch rtpengine metrics: "+err.Error(), http.StatusBadGateway)
		return
	}
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	w.Write(body)
}
