package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// maxUpstreamBody caps what is read from rtpengine's page.
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
