package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// listen serves the same routes and server as Run, with timeouts t, on a
// real listener, and returns its address.
func listen(t *testing.T, tm httpTimeouts) string {
	t.Helper()
	gw, err := gateway.New(gateway.Options{Stages: pipeline.Stages{LLM: &echo.Echo{}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(routes(gw), zap.NewNop(), tm)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
		srv.Close()
	})
	return ln.Addr().String()
}

// heldFor writes req on a new connection, reads the response (if any) and
// returns it with how long the server kept the connection open after
// req, up to limit.
func heldFor(t *testing.T, addr, req string, limit time.Duration) (*http.Response, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(start.Add(limit))
	br := bufio.NewReader(c)
	var resp *http.Response
	if strings.Contains(req, "\r\n\r\n") {
		if resp, err = http.ReadResponse(br, nil); err != nil {
			return nil, time.Since(start)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	io.Copy(io.Discard, br) // until the server closes, or the limit
	return resp, time.Since(start)
}

// TestHTTPServerBoundsConnections: against a real listener, no request or
// idle connection holds the server for long, while a WebSocket lives on
// past every one of those timeouts.
func TestHTTPServerBoundsConnections(t *testing.T) {
	tm := httpTimeouts{header: 300 * time.Millisecond, read: 600 * time.Millisecond, idle: 300 * time.Millisecond}
	addr := listen(t, tm)
	const limit = 3 * time.Second

	t.Run("declared body never sent", func(t *testing.T) {
		for _, req := range []string{
			"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
			"GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
		} {
			resp, held := heldFor(t, addr, req, limit)
			if resp == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%q: response %v, want 413", req, resp)
			}
			if held > tm.read/2 { // refused at once, not at the read timeout
				t.Errorf("%q: connection held %s", req, held)
			}
		}
	})
	t.Run("realtime client secret", func(t *testing.T) {
		body := `{"session":{"type":"realtime","instructions":"hi"}}`
		resp, err := http.Post("http://"+addr+gateway.PathClientSecrets, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"value":"ek_`) {
			t.Errorf("HTTP %d %s", resp.StatusCode, b)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		resp, held := heldFor(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", limit)
		if resp == nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("response %v", resp)
		}
		if held < tm.idle || held > tm.idle+time.Second {
			t.Errorf("idle connection held %s, want about %s", held, tm.idle)
		}
	})
	t.Run("headers never finished", func(t *testing.T) {
		_, held := heldFor(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n", limit)
		if held > tm.header+time.Second {
			t.Errorf("half a request held the connection %s", held)
		}
	})
	t.Run("websocket outlives the timeouts", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), limit+2*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+gateway.PathWS, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		ws.Write(ctx, websocket.MessageText, []byte(`{"type":"session.start"}`))
		if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), "session.started") {
			t.Fatalf("%s %v", b, err)
		}
		time.Sleep(tm.read + tm.idle + 200*time.Millisecond)
		for i := range 3 {
			msg := fmt.Sprintf(`{"type":"ping","id":"%d"}`, i)
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), "pong") {
				t.Fatalf("after the timeouts: %s %v", b, err)
			}
		}
		ws.Close(websocket.StatusNormalClosure, "")
	})
}
