package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
	"github.com/kamailio-exporter/kamailio_exporter/internal/fakectl"
)

// childArgsEnv holds the arguments, one per line, of an exporter that the
// tests run as a child process (the test binary itself, see TestMain), so
// that real signals can be sent to it.
const childArgsEnv = "KAMAILIO_EXPORTER_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childArgsEnv); ok {
		os.Exit(run(strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// child is an exporter running in a child process.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	log    *syncBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startChild runs the exporter with args (and a listen address) in a child
// process with TMPDIR set to tmp, and waits until it serves.
func startChild(t *testing.T, tmp string, args ...string) *child {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	args = append([]string{"--web.listen-address=" + addr}, args...)
	c := &child{t: t, base: "http://" + addr, log: &syncBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0])
	c.cmd.Env = append(os.Environ(), childArgsEnv+"="+strings.Join(args, "\n"), "TMPDIR="+tmp)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill() // by its pid; a no-op once it has exited
		<-c.exited
		if t.Failed() {
			t.Logf("exporter log:\n%s", c.log.String())
		}
	})
	c.waitFor("the exporter to listen", func() bool {
		code, _ := c.get("/")
		return code == 200
	})
	return c
}

func (c *child) get(path string) (int, string) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(c.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond for up to 10 s, failing the test if the exporter
// exits meanwhile.
func (c *child) waitFor(what string, cond func() bool) {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		select {
		case <-c.exited:
			c.t.Fatalf("waiting for %s: the exporter exited: %v", what, c.err)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("waiting for %s: not within 10s", what)
		}
	}
}

func (c *child) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v: %v", sig, err)
	}
}

// SIGHUP never stops the exporter: without --config.file it logs that
// there is nothing to reload and keeps serving; with one it reloads it.
// SIGTERM stops it cleanly (exit 0), leaving nothing in TMPDIR although
// it scraped a unixd socket.
func TestSignals(t *testing.T) {
	ctl, err := discoveryOnlyCtl("unixgram")
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	other, err := fakectl.Start("tcp", func(r fakectl.Request) fakectl.Response {
		return fakectl.Response{Values: []binrpc.Value{binrpc.String("system.listMethods")}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	for _, withConfig := range []bool{false, true} {
		name := "without --config.file"
		if withConfig {
			name = "with --config.file"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tmp := filepath.Join(dir, "tmp")
			if err := os.Mkdir(tmp, 0o700); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "probe.yml")
			args := []string{"--kamailio.binrpc-uri=" + ctl.URI()}
			if withConfig {
				if err := os.WriteFile(cfg, []byte("targets: []\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config.file="+cfg)
			}
			c := startChild(t, tmp, args...)
			up := func() bool {
				code, body := c.get("/metrics")
				return code == 200 && strings.Contains(body, "\nkamailio_up 1\n")
			}
			c.waitFor("kamailio_up 1", up)
			if code, body := c.get("/probe?target=" + other.URI()); code != 403 {
				t.Errorf("probe of an unlisted target: %d %.200s", code, body)
			}
			if withConfig {
				if err := os.WriteFile(cfg, []byte("targets:\n  - match: \""+other.URI()+"\"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for i := 1; i <= 2; i++ {
				c.signal(syscall.SIGHUP)
				c.waitFor("the SIGHUP log line", func() bool { return strings.Count(c.log.String(), "SIGHUP") == i })
				c.waitFor("kamailio_up 1 after SIGHUP", up)
			}
			_, body := c.get("/metrics")
			if withConfig {
				if !strings.Contains(body, "\nkamailio_exporter_config_last_reload_successful 1\n") {
					t.Errorf("no successful reload on the page:\n%.2000s", body)
				}
				if n := strings.Count(c.log.String(), "config loaded"); n != 3 {
					t.Errorf("config loaded %d times, want 3 (start and two SIGHUPs)", n)
				}
				if code, body := c.get("/probe?target=" + other.URI()); code != 200 || !strings.Contains(body, "kamailio_up 1") {
					t.Errorf("probe of the target listed after the SIGHUP: %d %.200s", code, body)
				}
			} else {
				if strings.Contains(body, "config_last_reload") {
					t.Errorf("reload metrics without a config file")
				}
				resp, err := http.Post(c.base+"/-/reload", "", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 404 {
					t.Errorf("POST /-/reload without a config file: %d, want 404", resp.StatusCode)
				}
			}

			c.signal(syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(20 * time.Second):
				t.Fatal("the exporter did not stop within 20s of SIGTERM")
			}
			if c.err != nil {
				t.Errorf("after SIGTERM: %v, want exit 0", c.err)
			}
			if !strings.Contains(c.log.String(), "Stopping kamailio_exporter") {
				t.Errorf("no stop log line")
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("TMPDIR holds %v after SIGTERM", left)
			}
		})
	}
}
