package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/internal/upstream"
)

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
