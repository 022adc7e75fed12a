package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// baseline is the bare coder/websocket server the gateway is compared with:
// no sessions, no pipeline. It reads every binary frame into a reused
// buffer, echoes every echoEvery-th, answers a text ping with a pong, and
// lets the library answer WebSocket pings.
type baseline struct {
	echoEvery int
	frames    atomic.Int64
	conns     atomic.Int64
}

var pongMsg = []byte(`{"type":"pong"}`)

func (b *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	b.conns.Add(1)
	defer b.conns.Add(-1)
	defer c.CloseNow()
	ctx := context.Background()
	buf := make([]byte, 32*1024)
	for n := 0; ; {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			return
		}
		m, err := io.ReadFull(rd, buf)
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			c.Close(websocket.StatusMessageTooBig, "frame too large")
			return
		}
		if typ == websocket.MessageText {
			if msgType(buf[:m]) == "other" { // a ping, or anything: answer it
				if err := c.Write(ctx, websocket.MessageText, pongMsg); err != nil {
					return
				}
			}
			continue
		}
		b.frames.Add(1)
		if n++; n%b.echoEvery == 0 {
			if err := c.Write(ctx, websocket.MessageBinary, buf[:m]); err != nil {
				return
			}
		}
	}
}

// serveBaseline runs the baseline server on addr until SIGTERM or SIGINT.
func serveBaseline(addr string, echoEvery int) error {
	if echoEvery < 1 {
		return errors.New("-echo-every must be at least 1")
	}
	b := &baseline{echoEvery: echoEvery}
	mux := http.NewServeMux()
	mux.Handle("/ws", b)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "wsbaseline_frames_in_total %d\nwsbaseline_connections %d\n", b.frames.Load(), b.conns.Load())
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("baseline listening on http://%s/ (echo every %d)\n", ln.Addr(), echoEvery)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Shutdown does not close hijacked connections: the handlers end when
	// the clients close, or here, when the process exits.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
