// Package redistest starts a real redis-server for a test: on a free
// loopback port, with its own directory, no persistence, and stopped by its
// pid when the test ends. It needs the Debian package redis-server (the
// Makefile's TEST_DEBS).
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is one redis-server process, restartable on its port.
type Server struct {
	t      testing.TB
	port   int
	dir    string
	args   []string
	scheme string // redis, or rediss with StartTLS
	cmd    *exec.Cmd
	done   chan struct{}
}

// Start starts redis-server with args added to its command line (for
// example "--requirepass", "secret") and returns once it answers.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return start(t, "redis", args)
}

// StartTLS starts redis-server serving TLS only, with a certificate for
// 127.0.0.1 from a CA made for the test, and returns it with the path of
// that CA's PEM file.
func StartTLS(t testing.TB, args ...string) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	return start(t, "rediss", append([]string{"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"}, args...)), ca
}

func start(t testing.TB, scheme string, args []string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found: apt-get install -y redis-server (the Makefile's TEST_DEBS)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{t: t, port: port, dir: t.TempDir(), args: args, scheme: scheme}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is redis://host:port, or rediss:// for StartTLS.
func (s *Server) URL() string { return s.scheme + "://" + s.Addr() }

func (s *Server) start() {
	s.t.Helper()
	ports := []string{"--port", strconv.Itoa(s.port)}
	if s.scheme == "rediss" {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port)}
	}
	args := append(append(ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--loglevel", "warning"), s.args...)
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	var tail []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if len(tail) < 20 {
				tail = append(tail, sc.Text())
			}
		}
	}()
	go func() {
		<-logDone
		cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("redis-server exited: %s", strings.Join(tail, "\n"))
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatal(fmt.Errorf("redis-server did not listen on %s in 10 s", s.Addr()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL and waits for it to exit. Its data
// is gone. Killing a stopped server does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart kills the server and starts a fresh one on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// StartAgain starts a killed server again on its port, empty, and returns
// once it answers. On a running server it does nothing.
func (s *Server) StartAgain() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	s.start()
}
