package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// upstream is a fake provider under /v1 that counts the TCP connections its
// clients dial and how many of them are open. GET /v1/models answers the
// way OpenAI's does, slowly enough that concurrent prewarm requests overlap
// (or, with hangModels, not until the client gives up); everything else
// goes to h.
type upstream struct {
	*httptest.Server
	dials      atomic.Int32
	open       atomic.Int32
	models     atomic.Int32
	hangModels atomic.Bool
	hanging    chan struct{} // a GET /models is hanging
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{hanging: make(chan struct{}, 1)}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			u.models.Add(1)
			if u.hangModels.Load() {
				select {
				case u.hanging <- struct{}{}:
				default:
				}
				<-r.Context().Done()
				return
			}
			select {
			case <-time.After(30 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, `{"object":"list","data":[]}`)
			return
		}
		h(w, r)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			u.dials.Add(1)
			u.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			u.open.Add(-1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// slowOK answers after 30 ms, so that calls made together overlap.
func slowOK(w http.ResponseWriter, _ *http.Request) {
	time.Sleep(30 * time.Millisecond)
	_, _ = io.WriteString(w, "ok")
}

// postAll makes n calls at once and fails the test if one fails.
func postAll(t *testing.T, c *Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := post(t, context.Background(), c, "/x", `{}`)
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPrewarmOpensConnections: after Prewarm, PrewarmConns connections are
// open before any call, the first call dials nothing, and neither do that
// many calls at once.
func TestPrewarmOpensConnections(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("prewarm_conns=%d", n), func(t *testing.T) {
			u := newUpstream(t, slowOK)
			c := newClient(t, Config{BaseURL: u.URL + "/v1", PrewarmConns: n}, nil)
			if err := c.Prewarm(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d, o, m := u.dials.Load(), u.open.Load(), u.models.Load(); d != int32(n) || o != int32(n) || m != int32(n) {
				t.Fatalf("after Prewarm: %d dials, %d open, %d GET /models; want %d of each", d, o, m, n)
			}
			postAll(t, c, 1)
			if d := u.dials.Load(); d != int32(n) {
				t.Fatalf("the first call dialled: %d connections, want the %d warm ones", d, n)
			}
			postAll(t, c, n)
			if d := u.dials.Load(); d != int32(n) {
				t.Fatalf("%d calls at once dialled: %d connections, want the %d warm ones", n, d, n)
			}
		})
	}
}

// TestPrewarmUnreachable: connections that all fail alike are one error.
func TestPrewarmUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := newClient(t, Config{BaseURL: "http://" + addr + "/v1", PrewarmConns: 3}, nil)
	err = c.Prewarm(context.Background())
	if !errors.Is(err, pipeline.ErrUnavailable) || !strings.HasPrefix(err.Error(), "3 of 3 connections not opened: ") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Prewarm = %q, want one ErrUnavailable for the 3", err)
	}
}

// TestBreakerRecoveryPrewarms: when a healthy probe closes the breaker, the
// Client reopens its warm connections in the background, so that the calls
// coming back after an outage find them open.
func TestBreakerRecoveryPrewarms(t *testing.T) {
	var healthy atomic.Bool
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			openAIError(w, http.StatusServiceUnavailable, "The engine is currently overloaded")
			return
		}
		slowOK(w, r)
	})
	clock := newFakeClock()
	log, logs := newLogger()
	c := newClient(t, Config{
		BaseURL: u.URL + "/v1", MaxRetries: -1, FailureThreshold: 1,
		BreakerCoolDown: 10 * time.Second, PrewarmConns: 3,
	}, log, WithClock(clock))

	if _, err := post(t, context.Background(), c, "/x", `{}`); !errors.Is(err, pipeline.ErrUnavailable) || !c.Stats().BreakerOpen {
		t.Fatalf("err %v, stats %+v; want the breaker open", err, c.Stats())
	}
	// The outage takes the connections with it, and the client knows.
	u.CloseClientConnections()
	c.CloseIdleConnections()
	waitFor(t, "the connections to close", func() bool { return u.open.Load() == 0 })
	if m := u.models.Load(); m != 0 {
		t.Fatalf("%d GET /models before the breaker closed", m)
	}

	healthy.Store(true)
	clock.Advance(10 * time.Second)
	postAll(t, c, 1) // the probe
	if c.Stats().BreakerOpen {
		t.Fatal("breaker still open after a healthy probe")
	}
	waitFor(t, "the warm connections to be reopened", func() bool {
		return strings.Contains(logs.String(), "warm connections reopened after the breaker closed")
	})
	if m := u.models.Load(); m != 3 {
		t.Fatalf("%d GET /models after the breaker closed, want 3", m)
	}
	dials := u.dials.Load()
	postAll(t, c, 3)
	if d := u.dials.Load(); d != dials {
		t.Fatalf("3 calls after recovery dialled %d new connections, want none", d-dials)
	}
}

// TestCloseStopsRewarm: Close cancels a background prewarm and waits for it.
func TestCloseStopsRewarm(t *testing.T) {
	var healthy atomic.Bool
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			openAIError(w, http.StatusServiceUnavailable, "down")
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	u.hangModels.Store(true)
	clock := newFakeClock()
	c, err := New(Config{
		Name: "test", BaseURL: u.URL + "/v1", MaxRetries: -1, FailureThreshold: 1,
		BreakerCoolDown: time.Second, PrewarmConns: 2,
	}, nil, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = post(t, context.Background(), c, "/x", `{}`)
	healthy.Store(true)
	clock.Advance(time.Second)
	postAll(t, c, 1)
	select {
	case <-u.hanging:
	case <-time.After(5 * time.Second):
		t.Fatal("no background prewarm after the breaker closed")
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop the background prewarm")
	}
	c.Close() // idempotent
}
