package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// certificate holds the public listener's certificate, read from a PEM
// certificate file and key file, and replaced by reload while the server
// runs: handshakes after a reload get the new one, connections already
// open keep theirs. All methods may be called concurrently.
type certificate struct {
	certFile, keyFile string
	log               *zap.Logger
	now               func() time.Time
	cur               atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the pair, or fails naming both files (never
// quoting them: the key file is a secret).
func loadCertificate(certFile, keyFile string, log *zap.Logger) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certificate) load() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&pair)
	c.logLoaded(pair.Leaf)
	return nil
}

// reload reads both files again. A pair that does not load is logged and
// leaves the current certificate in place, so a half-written renewal never
// takes the listener down.
func (c *certificate) reload() error {
	err := c.load()
	if err != nil {
		c.log.Error("TLS certificate not reloaded: still serving the previous one", zap.Error(err))
	}
	return err
}

func (c *certificate) logLoaded(leaf *x509.Certificate) {
	fields := []zap.Field{
		zap.String("cert", c.certFile), zap.String("subject", leaf.Subject.String()),
		zap.Strings("names", certNames(leaf)), zap.String("serial", leaf.SerialNumber.Text(16)),
		zap.Time("not_after", leaf.NotAfter),
	}
	if c.now().After(leaf.NotAfter) {
		c.log.Warn("TLS certificate loaded, and it has expired: clients will refuse it", fields...)
		return
	}
	c.log.Info("TLS certificate loaded", fields...)
}

// certNames lists the names a certificate is for.
func certNames(leaf *x509.Certificate) []string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// tlsConfig is the public listener's: TLS 1.2 or newer, the current
// certificate for every handshake, and HTTP/1.1 only, because a WebSocket
// upgrades an HTTP/1.1 request (over HTTP/2 it would need extended
// CONNECT, which the gateway does not speak).
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
}
