//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/client"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// debianTool returns the path of a program from a Debian package in
// TEST_DEBS (make deps-test installs them), looking in the sbin
// directories too, which a non-root PATH may lack.
func debianTool(t testing.TB, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	t.Fatalf("%s is not installed: make deps-test installs it (Debian package %s)", name, pkg)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// nginxProc is nginx running deploy/nginx/voicegate.conf, rendered for
// loopback: its listeners on free ports, its upstreams the test's
// gateways, its certificate the test CA's.
type nginxProc struct {
	t         testing.TB
	HTTPSAddr string
	HTTPAddr  string
	dir       string
	cmd       *exec.Cmd
	log       *lockedBuffer
	done      chan struct{}
	client    *http.Client
}

// renderNginx writes into dir the deployment's nginx configuration with
// its addresses replaced for the test, inside a minimal nginx.conf, and
// returns that file's path. Each replacement must match, so a change to
// the file that the test no longer covers fails here.
func renderNginx(t testing.TB, dir string, upstreams []string, httpAddr, httpsAddr, cert, key string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "deploy", "nginx", "voicegate.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(src)
	replace := func(re string, want int, repl func(match string) string) {
		t.Helper()
		rx := regexp.MustCompile(re)
		if n := len(rx.FindAllString(conf, -1)); n != want {
			t.Fatalf("deploy/nginx/voicegate.conf: %d matches of %s, want %d", n, re, want)
		}
		conf = rx.ReplaceAllStringFunc(conf, repl)
	}
	// The upstream's servers: the first line becomes one per gateway,
	// with the same parameters; the others go.
	first := true
	replace(`(?m)^(\s*)server\s+10\.0\.0\.\d+:8080(\s[^;]*)?;\n`, 3, func(m string) string {
		if !first {
			return ""
		}
		first = false
		sub := regexp.MustCompile(`^(\s*)server\s+\S+(.*)$`).FindStringSubmatch(strings.TrimSuffix(m, "\n"))
		var b strings.Builder
		for _, u := range upstreams {
			fmt.Fprintf(&b, "%sserver %s%s\n", sub[1], u, sub[2])
		}
		return b.String()
	})
	replace(`(?m)^\s*listen \[::\]:(80|443)( ssl)?;\n`, 2, func(string) string { return "" })
	replace(`listen 80;`, 1, func(string) string { return "listen " + httpAddr + ";" })
	replace(`listen 443 ssl;`, 1, func(string) string { return "listen " + httpsAddr + " ssl;" })
	replace(`ssl_certificate\s+\S+;`, 1, func(string) string { return "ssl_certificate " + cert + ";" })
	replace(`ssl_certificate_key\s+\S+;`, 1, func(string) string { return "ssl_certificate_key " + key + ";" })
	site := filepath.Join(dir, "voicegate.conf")
	if err := os.WriteFile(site, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	var user string
	if os.Geteuid() == 0 {
		// Workers would switch to nobody, who cannot read the test's
		// private directories.
		user = "user root root;\n"
	}
	main := fmt.Sprintf(`%sworker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 512; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[3]s;
}
`, user, dir, site)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startNginx checks the rendered configuration with nginx -t, starts
// nginx on it and waits until /readyz answers through it.
func startNginx(t testing.TB, upstreams []string, caPEM, cert, key string) *nginxProc {
	t.Helper()
	bin := debianTool(t, "nginx", "nginx")
	n := &nginxProc{t: t, HTTPSAddr: freeAddr(t), HTTPAddr: freeAddr(t), dir: t.TempDir(), log: &lockedBuffer{}}
	conf := renderNginx(t, n.dir, upstreams, n.HTTPAddr, n.HTTPSAddr, cert, key)
	args := []string{"-p", n.dir, "-e", filepath.Join(n.dir, "error.log"), "-c", conf}

	out, err := exec.Command(bin, append([]string{"-t"}, args...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Fatalf("nginx -t on deploy/nginx/voicegate.conf: %v\n%s", err, out)
	}

	pem, err := os.ReadFile(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	n.client = &http.Client{Transport: tr, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	n.cmd = exec.Command(bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(n.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := n.client.Get(n.URL("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("nginx exited during startup:\n%s\n%s", n.log, n.errorLog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 through nginx after 15s (last: %v):\n%s", err, n.errorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns https://nginx + path.
func (n *nginxProc) URL(path string) string { return "https://" + n.HTTPSAddr + path }

func (n *nginxProc) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// stop ends nginx with SIGTERM (fast shutdown: it does not wait for the
// WebSockets it proxies), by its own pid.
func (n *nginxProc) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
		n.t.Errorf("nginx did not exit within 10s of SIGTERM")
	}
}

// get fetches path through nginx and returns status and body.
func (n *nginxProc) get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := n.client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

var metricsURL = regexp.MustCompile(`"metrics": "(http://[^"]+)"`)

// sessionsActive reads voicegate_sessions_active from the gateway's admin
// listener.
func sessionsActive(t testing.TB, g *gatewayProc) int {
	t.Helper()
	return int(metricValue(t, g, "voicegate_sessions_active"))
}

// metricValue reads an unlabelled metric from the gateway's admin listener,
// whose address its start-up log gives.
func metricValue(t testing.TB, g *gatewayProc, name string) float64 {
	t.Helper()
	m := metricsURL.FindStringSubmatch(g.Log())
	if m == nil {
		t.Fatalf("no metrics URL in the gateway's log:\n%s", g.Log())
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s at %s", name, m[1])
	return 0
}

// sessionEvents collects what a client.Session hands its Handler.
type sessionEvents struct {
	mu           sync.Mutex
	text         strings.Builder
	disconnected []error
	reconnected  int
	signal       chan struct{}
}

func newSessionEvents() *sessionEvents { return &sessionEvents{signal: make(chan struct{}, 64)} }

func (e *sessionEvents) handle(ev client.Event) {
	e.mu.Lock()
	switch m := ev.(type) {
	case *protocol.TextDelta:
		e.text.WriteString(m.Delta)
	case *client.Disconnected:
		e.disconnected = append(e.disconnected, m.Err)
	case *client.Connected:
		if m.Reconnect {
			e.reconnected++
		}
	}
	e.mu.Unlock()
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// waitFor waits until ok holds over the events, or fails after d.
func (e *sessionEvents) waitFor(t testing.TB, d time.Duration, what string, ok func(*sessionEvents) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		e.mu.Lock()
		done := ok(e)
		e.mu.Unlock()
		if done {
			return
		}
		select {
		case <-e.signal:
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("after %v, no %s (text %q, disconnects %v, reconnects %d)", d, what, e.text.String(), e.disconnected, e.reconnected)
		}
	}
}

// TestNginxInFront: two real gateways behind nginx running the
// deployment's configuration (TLS at nginx, WebSockets proxied).
// /readyz passes through; a session talks over wss:// through nginx; when
// its gateway drains, the client is told shutting_down, reconnects through
// nginx and lands on the other gateway; a raw WebSocket sees the drain's
// close code 1012 unchanged; and with every gateway gone nginx's /readyz
// is no longer 200.
func TestNginxInFront(t *testing.T) {
	caPEM, cert, key := newTestCA(t)
	const cfg = "server: {trusted_proxies: [127.0.0.1], drain_timeout: 5s}\n"
	gws := []*gatewayProc{startGateway(t, cfg), startGateway(t, cfg)}
	n := startNginx(t, []string{gws[0].Addr, gws[1].Addr}, caPEM, cert, key)

	if code, body := n.get(t, n.URL("/readyz")); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz through nginx: %d %q", code, body)
	}
	if code, _ := n.get(t, "http://"+n.HTTPAddr+"/readyz"); code != http.StatusMovedPermanently {
		t.Errorf("plain HTTP /readyz: %d, want a redirect to https", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev := newSessionEvents()
	sess, err := client.Dial(ctx, client.Config{
		URL: "wss://" + n.HTTPSAddr + "/ws", HTTPClient: n.client, TextOnly: true, Handler: ev.handle,
		Backoff: client.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("dial through nginx: %v\n%s", err, n.errorLog())
	}
	defer sess.Close()
	if err := sess.SendText("hello through the proxy"); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, 20*time.Second, "echo reply through nginx", func(e *sessionEvents) bool {
		return strings.Contains(e.text.String(), "hello through the proxy")
	})

	// Which gateway holds it?
	held := -1
	for i, g := range gws {
		if sessionsActive(t, g) == 1 {
			held = i
		}
	}
	if held < 0 || sessionsActive(t, gws[1-held]) != 0 {
		t.Fatalf("sessions active per gateway: %d, %d; want the one session on one of them", sessionsActive(t, gws[0]), sessionsActive(t, gws[1]))
	}
	drained, other := gws[held], gws[1-held]
	drained.Stop() // SIGTERM: drain, then exit

	ev.waitFor(t, 20*time.Second, "reconnect after the drain", func(e *sessionEvents) bool { return e.reconnected >= 1 })
	ev.mu.Lock()
	first := ev.disconnected[0]
	ev.mu.Unlock()
	if code, _ := client.CodeOf(first); code != protocol.CodeShuttingDown {
		t.Errorf("the drained gateway's clients were disconnected with %v, want %s", first, protocol.CodeShuttingDown)
	}
	if got := sessionsActive(t, other); got != 1 {
		t.Errorf("the other gateway has %d sessions after the reconnect, want 1", got)
	}
	if err := sess.SendText("and after the drain"); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, 20*time.Second, "echo reply after the reconnect", func(e *sessionEvents) bool {
		return strings.Contains(e.text.String(), "and after the drain")
	})
	if code, body := n.get(t, n.URL("/readyz")); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz through nginx with one gateway left: %d %q", code, body)
	}

	// A raw WebSocket through nginx on the gateway left, then its drain:
	// the close code reaches the client unchanged.
	raw, _, err := websocket.Dial(ctx, "wss://"+n.HTTPSAddr+"/ws", &websocket.DialOptions{HTTPClient: n.client})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.CloseNow()
	writeJSON(t, ctx, raw, protocol.SessionStart{Type: protocol.TypeSessionStart, TextOnly: true})
	readErr := make(chan error, 1)
	started := make(chan struct{}, 1)
	go func() {
		for {
			_, data, err := raw.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			if strings.Contains(string(data), `"`+protocol.TypeSessionStarted+`"`) {
				started <- struct{}{}
			}
		}
	}()
	select {
	case <-started:
	case err := <-readErr:
		t.Fatalf("raw session through nginx: %v", err)
	case <-ctx.Done():
		t.Fatal("no session.started on the raw WebSocket")
	}
	other.Stop()
	select {
	case err := <-readErr:
		if st := websocket.CloseStatus(err); st != websocket.StatusServiceRestart {
			t.Errorf("raw WebSocket ended with %v (status %d), want 1012 through nginx", err, st)
		}
	case <-ctx.Done():
		t.Fatal("the raw WebSocket did not end after its gateway drained")
	}
	if code, _ := n.get(t, n.URL("/readyz")); code == http.StatusOK {
		t.Errorf("/readyz through nginx with every gateway stopped: %d, want an error status", code)
	}
}

// TestSystemdUnitVerifies: systemd-analyze verify accepts the deployment's
// unit, with ExecStart pointing at the real binary, without a warning.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := debianTool(t, "systemd-analyze", "systemd")
	src, err := os.ReadFile(filepath.Join("..", "deploy", "systemd", "voicegate.service"))
	if err != nil {
		t.Fatal(err)
	}
	const installed = "ExecStart=/usr/local/bin/voicegate "
	if strings.Count(string(src), installed) != 1 {
		t.Fatalf("the unit has no single %q line", installed)
	}
	unit := strings.Replace(string(src), installed, "ExecStart="+binary(t, "voicegate")+" ", 1)
	path := filepath.Join(t.TempDir(), "voicegate.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// And a unit it should reject is rejected, so silence means something.
	bad := strings.Replace(unit, "KillSignal=SIGTERM", "KillSignal=SIGTERMINATE", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command(analyze, "verify", path).CombinedOutput(); !strings.Contains(string(out), "SIGTERMINATE") {
		t.Errorf("systemd-analyze verify said nothing of a bad KillSignal:\n%s", out)
	}
}
