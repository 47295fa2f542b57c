// Package upstream fetches the HTTP pages the exporter passes on: Kamailio's
// xhttp_prom page and rtpengine's metrics.
package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// MaxBody caps what is read from an upstream page.
const MaxBody = 32 << 20

// Get fetches url within ctx, reading at most MaxBody bytes.
func Get(ctx context.Context, c *http.Client, url string) (body []byte, status int, contentType string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, 0, "", fmt.Errorf("read body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, 0, "", fmt.Errorf("body larger than %d bytes", MaxBody)
	}
	return body, resp.StatusCode, resp.Header.Get("Content-Type"), nil
}
