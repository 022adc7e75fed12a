//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voicegate/voicegate/client"
	"github.com/voicegate/voicegate/internal/testca"
)

// newTestCA makes a CA and a certificate it signed for 127.0.0.1, ::1 and
// localhost, and writes them as PEM files into t.TempDir(): the CA's
// certificate (what a client trusts: NODE_EXTRA_CA_CERTS=caPEMPath for
// Node), and the server's certificate and key (server.tls_cert and
// server.tls_key).
func newTestCA(t testing.TB) (caPEMPath, certPath, keyPath string) {
	t.Helper()
	_, f, err := testca.WriteFiles(t.TempDir(), "voicegate e2e")
	if err != nil {
		t.Fatal(err)
	}
	return f.CA, f.Cert, f.Key
}

// tlsServerYAML is a server: section serving the certificate in
// certPath and keyPath.
func tlsServerYAML(certPath, keyPath string) string {
	return fmt.Sprintf("server: {tls_cert: %q, tls_key: %q}\n", certPath, keyPath)
}

// TestTLSBinary: the real binary serves the page and wss:// with the
// configured certificate, and a SIGHUP to the process serves the files'
// new certificate to new connections while an open session (the Go
// client's) goes on.
func TestTLSBinary(t *testing.T) {
	caPEM, certPath, keyPath := newTestCA(t)
	g := startGatewayTLS(t, tlsServerYAML(certPath, keyPath), caPEM)

	resp, err := g.Client().Get(g.URL("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET / over TLS: %d %+v", resp.StatusCode, resp.TLS)
	}
	if !strings.Contains(g.Log(), g.WS()) {
		t.Errorf("the start-up log does not give %s:\n%s", g.WS(), g.Log())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := client.Dial(ctx, client.Config{URL: g.WS(), HTTPClient: g.Client(), TextOnly: true, Backoff: client.Backoff{MaxAttempts: 1}})
	if err != nil {
		t.Fatalf("Go client over %s: %v", g.WS(), err)
	}
	defer sess.Close()
	if _, err := sess.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// The renewal comes from another CA: a client that trusts only that
	// one can connect once the new certificate is served.
	renewed, err := testca.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := renewed.IssueFiles("voicegate renewed", certPath, keyPath); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := tls.Dial("tcp", g.Addr, &tls.Config{RootCAs: renewed.Pool(), ServerName: "127.0.0.1"})
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate is not served 10 s after SIGHUP: %v\n%s", err, g.Log())
		}
	}
	// The session opened before the reload goes on, on its connection.
	if _, err := sess.Ping(ctx); err != nil || !sess.Connected() {
		t.Fatalf("after the reload: %v (connected %v)", err, sess.Connected())
	}
}
