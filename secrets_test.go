package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The password of a URL given on the command line (basic auth for
// Kamailio's xhttp_prom page or rtpengine's metrics, behind a proxy) is
// never written: not in a log line, an error, the landing page or an HTTP
// answer, whether the page is refused, answers 500 or garbage, or is too
// slow, nor when the URL is malformed at start-up.
func TestURLPasswordNeverWritten(t *testing.T) {
	const secret = "S3cr3t-in-the-URL"
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	serve := func(h http.HandlerFunc) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hosts := map[string]string{
		"refused": closed,
		"500":     serve(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }),
		"garbage": serve(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("not { a metric page\n")) }),
		"too slow": serve(func(w http.ResponseWriter, r *http.Request) {
			select { // bounded: the exporter's timeout ends the request first
			case <-release:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}),
	}
	ctl, err := discoveryOnlyCtl("unix")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	for name, host := range hosts {
		t.Run(name, func(t *testing.T) {
			u := "http://prometheus:" + secret + "@" + host + "/metrics"
			c := startChild(t, t.TempDir(), "--kamailio.binrpc-uri="+ctl.URI(), "--kamailio.timeout=1s",
				"--kamailio.custom-metrics-url="+u, "--web.rtp-telemetry-path=/rtp_metrics", "--rtpengine.metrics-url="+u,
				"--log.level=debug")
			var answers strings.Builder
			for _, path := range []string{"/", "/metrics", "/rtp_metrics", "/probe?target=" + ctl.URI(), "/metrics"} {
				_, body := c.get(path)
				answers.WriteString(body)
			}
			// rtpengine's page is passed on with its status: only a fetch
			// that gets no answer is logged.
			c.waitFor("the failed fetch to be logged", func() bool {
				return strings.Contains(c.log.String(), "Scraping user defined metrics failed")
			})
			if strings.Contains(answers.String(), secret) {
				t.Errorf("an HTTP answer holds the password")
			}
			if strings.Contains(c.log.String(), secret) {
				t.Errorf("the log holds the password:\n%s", c.log.String())
			}
			if !strings.Contains(c.log.String(), "prometheus:xxxxx@") {
				t.Errorf("the log does not name the URL, redacted:\n%s", c.log.String())
			}
		})
	}
	// Malformed at start-up: an error that names the URL without its
	// password, exit 2.
	for _, bad := range []string{
		"http://prometheus:" + secret + "@[::1/metrics",
		"http://prometheus:" + secret + "@host:port/metrics",
		"ftp://prometheus:" + secret + "@host/metrics",
	} {
		for _, flag := range []string{"--kamailio.custom-metrics-url=", "--rtpengine.metrics-url="} {
			var out, errb bytes.Buffer
			code := run([]string{flag + bad, "--web.rtp-telemetry-path=/rtp", "--web.listen-address=127.0.0.1:0"}, &out, &errb)
			if code != 2 || strings.Contains(out.String()+errb.String(), secret) || !strings.Contains(errb.String(), "xxxxx@") {
				t.Errorf("%s%s: exit %d, output %q", flag, bad, code, out.String()+errb.String())
			}
		}
	}
}

// The xhttp_prom fetch takes its credentials from an HTTP client config
// file, as Prometheus's scrape configs do: basic auth with a password file.
func TestCustomMetricsHTTPConfigFile(t *testing.T) {
	const secret = "from-the-password-file"
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "prometheus" || pass != secret {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("# TYPE kamailio_app_calls counter\nkamailio_app_calls 7\n"))
	}))
	defer page.Close()
	dir := t.TempDir()
	passFile := filepath.Join(dir, "password")
	cfgFile := filepath.Join(dir, "http.yml")
	os.WriteFile(passFile, []byte(secret+"\n"), 0o600)
	os.WriteFile(cfgFile, []byte("basic_auth:\n  username: prometheus\n  password_file: "+passFile+"\n"), 0o600)
	ctl, err := discoveryOnlyCtl("unix")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	c := startChild(t, dir, "--kamailio.binrpc-uri="+ctl.URI(), "--kamailio.custom-metrics-url="+page.URL+"/metrics",
		"--kamailio.custom-metrics-http-config-file="+cfgFile)
	_, body := c.get("/metrics")
	if !strings.Contains(body, "kamailio_app_calls 7") || !strings.Contains(body, `kamailio_scrape_collector_success{collector="custom_metrics"} 1`) {
		t.Errorf("the page fetched with the config file's credentials is not merged:\n%.2000s", body)
	}
	if strings.Contains(c.log.String(), secret) {
		t.Errorf("the log holds the password:\n%s", c.log.String())
	}
	// A bad file is a start-up error.
	os.WriteFile(cfgFile, []byte("basic_auth:\n  username: x\n  password: a\n  password_file: b\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"--kamailio.custom-metrics-url=" + page.URL, "--kamailio.custom-metrics-http-config-file=" + cfgFile,
		"--web.listen-address=127.0.0.1:0"}, &out, &errb); code != 2 {
		t.Errorf("invalid HTTP config file: exit %d, %s", code, errb.String())
	}
}
