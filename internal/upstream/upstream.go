// Package upstream fetches the HTTP pages the exporter passes on: Kamailio's
// xhttp_prom page and rtpengine's metrics.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
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

// Check reports whether raw is an http:// or https:// URL with a host. Its
// error never holds raw's password (Redact).
func Check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes raw whole: only its reason is kept.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%q: %w", Redact(raw), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL", Redact(raw))
	}
	return nil
}

// userinfo is the user:password@ part of a URL that url.Parse refuses.
var userinfo = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*?:)[^/?#]*@`)

// Redact returns raw with its password, if any, replaced by "xxxxx"
// (url.URL.Redacted), also when raw does not parse as a URL: the form in
// which a URL may be logged, shown or returned in an error.
func Redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return userinfo.ReplaceAllString(raw, "${1}xxxxx@")
}
