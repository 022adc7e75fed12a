package app

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cheapConfig is a server that starts at once: commands and the echo
// model, and quiet logs.
const cheapConfig = `log: {level: error}
providers:
  asr: [{name: exec, command: [cat]}]
  llm: [{name: echo}]
  tts: [{name: exec, command: [cat], sample_rate: 16000}]
`

type running struct {
	public, admin net.Addr
}

// serve runs the server with args over cheapConfig plus extraYAML and env,
// until the test ends, when it drains it and checks it stopped cleanly.
func serve(t *testing.T, extraYAML string, env map[string]string, args ...string) running {
	t.Helper()
	return serveWith(t, Builtin(), hooks{}, extraYAML, env, args...)
}

// serveWith is serve with the providers and tools of reg and h's reloaded
// hook (its ready and stop are serve's own).
func serveWith(t *testing.T, reg Registry, h hooks, extraYAML string, env map[string]string, args ...string) running {
	t.Helper()
	cfg := writeConfig(t, extraYAML)
	stop := make(chan os.Signal, 1)
	ready := make(chan running, 1)
	done := make(chan error, 1)
	h.ready = func(public, admin net.Addr) { ready <- running{public, admin} }
	h.stop = stop
	go func() {
		done <- run(append([]string{"-config", cfg}, args...), func(k string) string { return env[k] }, reg, h)
	}()
	select {
	case r := <-ready:
		t.Cleanup(func() {
			stop <- syscall.SIGTERM
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("the server did not stop")
			}
		})
		return r
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not start")
	}
	return running{}
}

// get fetches url, with Host host if set.
func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRefusesUnauthenticatedExposure: a server any host on the network could
// use without a key does not start, and says in one line how to fix it.
func TestRefusesUnauthenticatedExposure(t *testing.T) {
	cfg := writeConfig(t, "")
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.10:8080", "voice.example.com:8080"} {
		t.Run(addr, func(t *testing.T) {
			stop := make(chan os.Signal, 1)
			start := time.Now()
			err := run([]string{"-config", cfg, "-addr", addr, "-admin-addr", "127.0.0.1:0"}, func(string) string { return "" }, Builtin(), hooks{
				ready: func(public, _ net.Addr) {
					t.Errorf("started on %v", public)
					stop <- syscall.SIGTERM
				},
				stop: stop,
			})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, want := range []string{addr, "server.api_keys", "VOICEGATE_API_KEYS", "server.allow_unauthenticated: true"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("more than one line: %q", msg)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %v", d)
			}
		})
	}
}

// TestStartsWhenExposureIsSafe: loopback without keys (make run), any
// address with keys, and any address when allowed outright.
func TestStartsWhenExposureIsSafe(t *testing.T) {
	admin := []string{"-admin-addr", "127.0.0.1:0"}
	t.Run("loopback", func(t *testing.T) {
		serve(t, "", nil, append(admin, "-addr", "127.0.0.1:0")...)
	})
	t.Run("keys", func(t *testing.T) {
		serve(t, "", map[string]string{"VOICEGATE_API_KEYS": "vg-test-key-0123456789"}, append(admin, "-addr", ":0")...)
	})
	t.Run("allowed", func(t *testing.T) {
		r := serve(t, "server: {allow_unauthenticated: true}\n", nil, append(admin, "-addr", ":0")...)
		// Still no DNS rebinding: the names /ws answers stay loopback.
		port := r.public.(*net.TCPAddr).Port
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		if code, _ := get(t, url+"/ws", "rebind.attacker.com:"+strconv.Itoa(port)); code != http.StatusForbidden {
			t.Errorf("/ws for a rebound name: %d, want 403", code)
		}
	})
}

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "localhost:8080": true, "LOCALHOST:1": true, "[::1]:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "example.com:80": false,
		"127.0.0.1": false, "": false,
	} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestAdminListener: /metrics and /debug/pprof are served on the admin
// listener only; the public one answers 404 for them. The page stays
// public, for any Host: it is static and holds nothing.
func TestAdminListener(t *testing.T) {
	r := serve(t, "", nil, "-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0", "-pprof")
	public, admin := "http://"+r.public.String(), "http://"+r.admin.String()
	for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"} {
		if code, _ := get(t, public+p, ""); code != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", p, code)
		}
	}
	code, body := get(t, admin+"/metrics", "")
	if code != http.StatusOK || !strings.Contains(body, "voicegate_sessions_active") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("admin /metrics: %d %.200s", code, body)
	}
	if code, _ := get(t, admin+"/debug/pprof/cmdline", ""); code != http.StatusOK {
		t.Errorf("admin /debug/pprof/cmdline: %d", code)
	}
	if code, _ := get(t, public+"/", "rebind.attacker.com"); code != http.StatusOK {
		t.Errorf("the page for another Host: %d, want 200", code)
	}
	if code, _ := get(t, public+"/readyz", "10.1.2.3:8080"); code != http.StatusOK {
		t.Errorf("/readyz by address: %d, want 200", code)
	}
}

// TestAdminListenerOptions: pprof is opt-in, "off" turns the listener off,
// and pprof without it is refused.
func TestAdminListenerOptions(t *testing.T) {
	r := serve(t, "", nil, "-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0")
	if code, _ := get(t, "http://"+r.admin.String()+"/debug/pprof/cmdline", ""); code != http.StatusNotFound {
		t.Errorf("pprof without -pprof: %d, want 404", code)
	}
	if off := serve(t, "", map[string]string{"VOICEGATE_ADMIN_ADDR": "off"}, "-addr", "127.0.0.1:0"); off.admin != nil {
		t.Errorf("admin listener on %v with admin_addr off", off.admin)
	}
	err := run([]string{"-addr", "127.0.0.1:0", "-admin-addr", "off", "-pprof"}, func(string) string { return "" }, Builtin(), hooks{})
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Errorf("pprof with the admin listener off: %v", err)
	}
	// A taken admin address says what to change.
	err = run([]string{"-config", writeConfig(t, ""), "-addr", "127.0.0.1:0", "-admin-addr", r.admin.String()}, func(string) string { return "" }, Builtin(), hooks{})
	if err == nil || !strings.Contains(err.Error(), "-admin-addr") {
		t.Errorf("admin address in use: %v", err)
	}
}

// writeConfig writes cheapConfig plus extraYAML to a file.
func writeConfig(t *testing.T, extraYAML string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "voicegate.yaml")
	if err := os.WriteFile(cfg, []byte(cheapConfig+extraYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
