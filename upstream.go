package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/internal/upstream"
)

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
	body, status, ctype, err := upstream.Get(ctx, p.client, p.url)
	if err != nil {
		p.logger.Error("Failed to fetch rtpengine metrics", "url", upstream.Redact(p.url), "err", err)
		http.Error(w, "Failed to fetch rtpengine metrics: "+err.Error(), http.StatusBadGateway)
		return
	}
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	w.Write(body)
}
