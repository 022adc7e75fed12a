//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
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
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary builds the module's commands once per test run and returns the path
// of the one named (voicegate, voicegate-mic, voicegate-load).
func binary(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "voicegate-e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "../cmd/...")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ../cmd/...: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gatewayProc is a running voicegate server.
type gatewayProc struct {
	t      testing.TB
	Addr   string
	config string
	cmd    *exec.Cmd
	log    *lockedBuffer
	done   chan struct{}
	// client reaches the server: http.DefaultClient, or over TLS one that
	// trusts the test CA (startGatewayTLS).
	client *http.Client
	tls    bool
	// program runs the server instead of the voicegate binary: a command
	// of the module and its first arguments (voicegate-load gateway).
	program []string
}

// startGateway runs the voicegate binary on a free port with configYAML
// ("" for the built-in offline default) and waits until it is ready.
func startGateway(t testing.TB, configYAML string) *gatewayProc {
	t.Helper()
	return startGatewayProc(t, &gatewayProc{t: t, Addr: freeAddr(t), client: http.DefaultClient}, configYAML)
}

// startGatewayTLS is startGateway for a configYAML that sets
// server.tls_cert and tls_key to a certificate signed by the CA in the PEM
// file caPEM (newTestCA): URL and WS are https:// and wss://, and Client
// trusts that CA.
func startGatewayTLS(t testing.TB, configYAML, caPEM string) *gatewayProc {
	t.Helper()
	pem, err := os.ReadFile(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caPEM)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return startGatewayProc(t, &gatewayProc{t: t, Addr: freeAddr(t), client: &http.Client{Transport: tr}, tls: true}, configYAML)
}

func startGatewayProc(t testing.TB, g *gatewayProc, configYAML string) *gatewayProc {
	t.Helper()
	if configYAML != "" {
		g.config = filepath.Join(t.TempDir(), "voicegate.yaml")
		if err := os.WriteFile(g.config, []byte(configYAML), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g.start()
	t.Cleanup(g.Stop)
	return g
}

func (g *gatewayProc) start() {
	t := g.t
	t.Helper()
	// An admin listener on a port of its own: the default, 127.0.0.1:9090,
	// would be shared by every gateway the tests start.
	args := []string{"-addr", g.Addr, "-admin-addr", "127.0.0.1:0"}
	if g.config != "" {
		args = append(args, "-config", g.config)
	}
	prog := []string{"voicegate"}
	if len(g.program) > 0 {
		prog = g.program
	}
	g.cmd = exec.Command(binary(t, prog[0]), append(prog[1:], args...)...)
	g.log = &lockedBuffer{}
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan struct{})
	go func() { g.cmd.Wait(); close(g.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := g.client.Get(g.URL("/readyz"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-g.done:
			t.Fatalf("voicegate exited during startup:\n%s", g.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("voicegate not ready after 30s:\n%s", g.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns http://addr + path (https:// over TLS).
func (g *gatewayProc) URL(path string) string {
	if g.tls {
		return "https://" + g.Addr + path
	}
	return "http://" + g.Addr + path
}

// WS returns the WebSocket URL (wss:// over TLS).
func (g *gatewayProc) WS() string {
	if g.tls {
		return "wss://" + g.Addr + "/ws"
	}
	return "ws://" + g.Addr + "/ws"
}

// Client returns the HTTP client that reaches the server (give it to
// websocket.DialOptions.HTTPClient for wss://).
func (g *gatewayProc) Client() *http.Client { return g.client }

// Stop sends SIGTERM and waits for a drained exit (SIGKILL after 15 s).
func (g *gatewayProc) Stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	select {
	case <-g.done:
		return
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
		g.t.Errorf("voicegate did not exit within 15s of SIGTERM:\n%s", g.log.String())
	}
}

// Restart stops the server and starts it again on the same address.
func (g *gatewayProc) Restart() {
	g.t.Helper()
	g.Stop()
	g.start()
}

// Log returns what the server printed so far.
func (g *gatewayProc) Log() string { return g.log.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// need skips the test when a tool the Makefile installs is absent, so a bare
// `go test -tags e2e` outside make explains itself.
func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: make test installs it (scripts/deps.sh)", tool)
			}
			t.Skipf("%s is not installed; run `make deps-test`", tool)
		}
	}
}

// flite synthesises text with flite's slt voice into a 16 kHz WAV in dir.
func flite(t testing.TB, dir, name, text string) string {
	t.Helper()
	need(t, "flite")
	path := filepath.Join(dir, name+".wav")
	out, err := exec.Command("flite", "-voice", "slt", "-t", text, "-o", path).CombinedOutput()
	if err != nil {
		t.Fatalf("flite: %v\n%s", err, out)
	}
	return path
}
