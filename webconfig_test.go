package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/collector"
)

func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// --web.config.file with TLS and basic auth, served by exporter-toolkit:
// the right password gets the metrics, a wrong or missing one 401, plain
// HTTP no metrics.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "web.yml")
	os.WriteFile(cfg, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+
		"\nbasic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600)

	ctl, err := discoveryOnlyCtl("unix")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	addr, _ := binrpc.ParseURI(ctl.URI())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	f := false
	o := &options{metricsPath: "/metrics", timeout: 2 * time.Second,
		web: &web.FlagConfig{WebListenAddresses: &[]string{listen}, WebSystemdSocket: &f, WebConfigFile: &cfg}}
	logger := promslog.NewNopLogger()
	h, err := newHandler(o, addr, collector.Settings{}, logger)
	if err != nil {
		t.Fatal(err)
	}
	var serverLog syncBuffer
	srv := newServer(h, promslog.New(&promslog.Config{Writer: &serverLog}))
	done := make(chan error, 1)
	go func() { done <- web.ListenAndServe(srv, o.web, logger) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(url, user, pass string) (int, string, error) {
		req, _ := http.NewRequest("GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, body, err = get("https://"+listen+"/metrics", "prometheus", "s3cret"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || code != 200 || !strings.Contains(body, "kamailio_up 1") {
		t.Fatalf("right password: %d %v %.200s", code, err, body)
	}
	if code, _, err := get("https://"+listen+"/metrics", "prometheus", "wrong"); err != nil || code != 401 {
		t.Errorf("wrong password: %d %v, want 401", code, err)
	}
	if code, _, err := get("https://"+listen+"/metrics", "", ""); err != nil || code != 401 {
		t.Errorf("no password: %d %v, want 401", code, err)
	}
	if code, body, err := get("http://"+listen+"/metrics", "prometheus", "s3cret"); err == nil && (code == 200 || strings.Contains(body, "kamailio_up")) {
		t.Errorf("plain HTTP served the metrics: %d", code)
	}
	// net/http's complaint about the plain request is a logfmt line of the
	// exporter's, not a bare line of Go's log package.
	var logged string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if logged = serverLog.String(); strings.Contains(logged, "TLS handshake error") {
			break
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logged), "\n") {
		if !regexp.MustCompile(`^time=\S+ level=ERROR source=\S+ msg=".*TLS handshake error`).MatchString(line) {
			t.Errorf("server log line not in the exporter's logfmt: %q", line)
		}
	}
}
