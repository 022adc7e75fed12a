package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/internal/testca"
)

// tlsYAML is the server: section that serves the certificate in files.
func tlsYAML(f testca.Files) string {
	return fmt.Sprintf("server: {tls_cert: %q, tls_key: %q}\n", f.Cert, f.Key)
}

// servedName connects afresh to addr, trusting only ca, and returns the
// subject's common name of the certificate the server presented.
func servedName(t *testing.T, ca *testca.CA, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestTLS: with server.tls_cert and tls_key, the public listener serves
// HTTPS and wss:// to a client that trusts the CA, over HTTP/1.1, TLS 1.2
// or newer only; SIGHUP serves the files' new certificate to new
// connections while open ones go on, and a pair that does not load on
// SIGHUP keeps the previous one.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, files, err := testca.WriteFiles(dir, "voicegate first")
	if err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 1)
	r := serveWith(t, Builtin(), hooks{reloaded: func(err error) { reloaded <- err }}, tlsYAML(files), nil,
		"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0")
	addr := r.public.String()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		ForceAttemptHTTP2: true, // the server must still answer HTTP/1.1
		DisableKeepAlives: true, // every request a new handshake
	}}
	t.Cleanup(client.CloseIdleConnections)

	resp, err := client.Get("https://" + addr + gateway.PathHealthz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/1.1" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("GET /healthz over TLS: %d %s %+v", resp.StatusCode, resp.Proto, resp.TLS)
	}
	if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != "voicegate first" {
		t.Errorf("served %q", got)
	}

	t.Run("plain HTTP refused", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + gateway.PathHealthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("plain HTTP answered 200 on the TLS listener")
			}
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11})
		if err == nil {
			c.Close()
			t.Error("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("untrusted CA refused", func(t *testing.T) {
		if _, err := http.Get("https://" + addr + gateway.PathHealthz); err == nil {
			t.Error("a client without the CA accepted the certificate")
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+addr+gateway.PathWS, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer ws.CloseNow()
	roundTrip := func(msg, want string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), want) {
			t.Fatalf("sent %s: got %s %v, want %s", msg, b, err, want)
		}
	}
	roundTrip(`{"type":"session.start"}`, `"session.started"`)

	reload := func(t *testing.T) error {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-reloaded:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("no reload after SIGHUP")
			return nil
		}
	}

	t.Run("reload", func(t *testing.T) {
		if err := ca.IssueFiles("voicegate second", files.Cert, files.Key); err != nil {
			t.Fatal(err)
		}
		if err := reload(t); err != nil {
			t.Fatalf("reload: %v", err)
		}
		if got := servedName(t, ca, addr); got != "voicegate second" {
			t.Errorf("after the reload the server presents %q", got)
		}
		roundTrip(`{"type":"ping","id":"after-reload"}`, `"pong"`)
	})

	keyPEM, err := os.ReadFile(files.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		cert, key  []byte // written over the files; nil leaves one as it is
		removeCert bool
	}{
		{name: "key that is not PEM", key: []byte("not a key\n")},
		{name: "certificate and key swapped", cert: keyPEM},
		{name: "certificate removed", removeCert: true},
	} {
		t.Run("broken: "+tc.name, func(t *testing.T) {
			certPEM, err := os.ReadFile(files.Cert)
			if err != nil {
				t.Fatal(err)
			}
			// A fresh pair, then one of its files broken: the new
			// certificate must not be served either.
			if err := ca.IssueFiles("voicegate broken", files.Cert, files.Key); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.removeCert:
				os.Remove(files.Cert)
			case tc.cert != nil:
				os.WriteFile(files.Cert, tc.cert, 0o600)
			case tc.key != nil:
				os.WriteFile(files.Key, tc.key, 0o600)
			}
			err = reload(t)
			if err == nil {
				t.Fatal("a broken pair reloaded")
			}
			if !strings.Contains(err.Error(), files.Cert) || !strings.Contains(err.Error(), files.Key) {
				t.Errorf("the error does not name both files: %v", err)
			}
			if got := servedName(t, ca, addr); got != "voicegate second" {
				t.Errorf("after a failed reload the server presents %q", got)
			}
			roundTrip(`{"type":"ping","id":"after-failed-reload"}`, `"pong"`)
			// Put the served pair back for the next case.
			if err := os.WriteFile(files.Cert, certPEM, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(files.Key, keyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
		})
	}
	ws.Close(websocket.StatusNormalClosure, "")
}

// TestTLSBadPairFailsStart: a pair that does not load stops the start,
// with an error naming both files and quoting neither.
func TestTLSBadPairFailsStart(t *testing.T) {
	dir := t.TempDir()
	_, files, err := testca.WriteFiles(dir, "voicegate")
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := testca.WriteFiles(t.TempDir(), "voicegate other")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(files.Key)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name      string
		cert, key string
	}{
		{"certificate missing", missing, files.Key},
		{"key missing", files.Cert, missing},
		{"swapped", files.Key, files.Cert},
		{"key of another certificate", files.Cert, other.Key},
		{"key given as both", files.Key, files.Key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeConfig(t, tlsYAML(testca.Files{Cert: tc.cert, Key: tc.key}))
			err := run([]string{"-config", cfg, "-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, func(string) string { return "" }, Builtin(), hooks{
				ready: func(public, _ net.Addr) { t.Errorf("started on %v", public) },
			})
			if err == nil {
				t.Fatal("started")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.cert) || !strings.Contains(msg, tc.key) {
				t.Errorf("%q does not name %s and %s", msg, tc.cert, tc.key)
			}
			for _, line := range strings.Split(string(keyPEM), "\n") {
				if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line[:16]) {
					t.Errorf("the error quotes the key: %q", msg)
				}
			}
		})
	}
}

// TestCertificateLog: a load logs the certificate's subject, names and
// expiry, and warns when it has expired.
func TestCertificateLog(t *testing.T) {
	_, files, err := testca.WriteFiles(t.TempDir(), "voicegate logged")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		now   time.Time
		level zapcore.Level
	}{
		{"valid", time.Now(), zapcore.InfoLevel},
		{"expired", time.Now().Add(48 * time.Hour), zapcore.WarnLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			c := &certificate{certFile: files.Cert, keyFile: files.Key, log: zap.New(core), now: func() time.Time { return tc.now }}
			if err := c.reload(); err != nil {
				t.Fatal(err)
			}
			entries := logs.All()
			if len(entries) != 1 || entries[0].Level != tc.level {
				t.Fatalf("logged %+v, want one %v entry", entries, tc.level)
			}
			f := entries[0].ContextMap()
			notAfter, _ := f["not_after"].(time.Time)
			if f["subject"] != "CN=voicegate logged" || f["cert"] != files.Cert || notAfter.Before(time.Now()) {
				t.Errorf("fields %v", f)
			}
			if names := fmt.Sprint(f["names"]); !strings.Contains(names, "127.0.0.1") || !strings.Contains(names, "localhost") {
				t.Errorf("names %s", names)
			}
		})
	}
}
