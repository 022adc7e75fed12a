package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		kind     error
		attempts int32
		message  string
	}{
		{"400 not retried", 400, nil, `{"error":{"message":"Unknown model 'gpt-9'","type":"invalid_request_error"}}`, pipeline.ErrRejected, 1, "Unknown model 'gpt-9'"},
		{"401 not retried", 401, nil, `{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}`, pipeline.ErrRejected, 1, "Incorrect API key provided"},
		{"403 string error", 403, nil, `{"error":"forbidden for this project"}`, pipeline.ErrRejected, 1, "forbidden for this project"},
		{"404 FastAPI detail", 404, nil, `{"detail":"Model 'kokoro' not found"}`, pipeline.ErrRejected, 1, "Model 'kokoro' not found"},
		{"422 plain text", 422, nil, "bad voice", pipeline.ErrRejected, 1, "bad voice"},
		{"408", 408, nil, "", pipeline.ErrTimeout, 1, ""},
		{"500 retried", 500, nil, `{"error":{"message":"The server had an error"}}`, pipeline.ErrUnavailable, 3, "The server had an error"},
		{"502 retried", 502, nil, "<html>bad gateway</html>", pipeline.ErrUnavailable, 3, "<html>bad gateway</html>"},
		{"429 retried", 429, map[string]string{"Retry-After": "0"}, `{"error":{"message":"Rate limit reached"}}`, pipeline.ErrRateLimited, 3, "Rate limit reached"},
		{"429 Retry-After over the cap fails at once", 429, map[string]string{"Retry-After": "60"}, `{"error":{"message":"slow down"}}`, pipeline.ErrRateLimited, 1, "slow down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			clock := newFakeClock()
			c := newClient(t, Config{BaseURL: srv.URL + "/v1", FailureThreshold: 100}, nil, WithClock(clock))
			resp, err := post(t, context.Background(), c, "/x", `{}`)
			if err == nil {
				resp.Body.Close()
				t.Fatal("want an error")
			}
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want kind %v", err, tt.kind)
			}
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != tt.status || e.Message != tt.message {
				t.Fatalf("err = %#v, want status %d message %q", e, tt.status, tt.message)
			}
			if got := hits.Load(); got != tt.attempts {
				t.Fatalf("server hit %d times, want %d", got, tt.attempts)
			}
		})
	}
}

func TestRetryThenSuccessSendsBodyAgain(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != `{"n":1}` {
			t.Errorf("attempt %d body %q", hits.Load(), b)
		}
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	clock := newFakeClock()
	c := newClient(t, Config{BaseURL: srv.URL, FailureThreshold: 10}, nil, WithClock(clock), WithRand(func() float64 { return 0.5 }))
	resp, err := post(t, context.Background(), c, "/x", `{"n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
	// Full jitter with rand = 0.5: half of 100 ms, then half of 200 ms.
	want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	if got := clock.Sleeps(); !equalDurations(got, want) {
		t.Fatalf("backoff sleeps %v, want %v", got, want)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryAfterForms(t *testing.T) {
	date := newFakeClock().Now().Add(3 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name   string
		header string
		value  string
		want   time.Duration
	}{
		{"seconds", "Retry-After", "2", 2 * time.Second},
		{"http date", "Retry-After", date, 3 * time.Second},
		{"milliseconds", "Retry-After-Ms", "250", 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					w.Header().Set(tt.header, tt.value)
					openAIError(w, http.StatusTooManyRequests, "Rate limit reached")
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
			clock := newFakeClock()
			c := newClient(t, Config{BaseURL: srv.URL}, nil, WithClock(clock))
			resp, err := post(t, context.Background(), c, "/x", `{}`)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := clock.Sleeps(); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("slept %v, want [%v]", got, tt.want)
			}
		})
	}
}

// TestRetryAfterRealTime measures the wait between the two requests the
// server sees, on the real clock.
func TestRetryAfterRealTime(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		n := len(arrivals)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			openAIError(w, http.StatusTooManyRequests, "Rate limit reached for requests")
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := newClient(t, Config{BaseURL: srv.URL}, nil)
	resp, err := post(t, context.Background(), c, "/x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	gap := arrivals[1].Sub(arrivals[0])
	t.Logf("Retry-After: 1 -> retried after %v", gap)
	if gap < time.Second || gap > 1300*time.Millisecond {
		t.Fatalf("retry after %v, want ≈1s", gap)
	}
}

func TestBreakerOpensHalvesAndRecovers(t *testing.T) {
	var hits atomic.Int32
	var healthy atomic.Bool
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			openAIError(w, http.StatusServiceUnavailable, "The engine is currently overloaded")
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	clock := newFakeClock()
	log, logs := newLogger()
	c := newClient(t, Config{BaseURL: srv.URL, MaxConcurrency: 8, BreakerCoolDown: 10 * time.Second}, log, WithClock(clock))

	// One call, three attempts, three 503s.
	_, err := post(t, context.Background(), c, "/x", `{}`)
	if !errors.Is(err, pipeline.ErrUnavailable) || hits.Load() != 3 {
		t.Fatalf("err %v after %d hits", err, hits.Load())
	}
	if s := c.Stats(); s.Limit != 4 || !s.BreakerOpen {
		t.Fatalf("stats %+v, want limit 4 and the breaker open", s)
	}
	// Fail fast, without touching the server.
	start := time.Now()
	_, err = post(t, context.Background(), c, "/x", `{}`)
	var e *Error
	if !errors.Is(err, pipeline.ErrUnavailable) || !errors.As(err, &e) || e.Message != "circuit breaker open" {
		t.Fatalf("err = %v, want breaker open", err)
	}
	if hits.Load() != 3 || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("breaker did not fail fast: %d hits, %v", hits.Load(), time.Since(start))
	}
	if e.RetryAfter != 10*time.Second {
		t.Fatalf("RetryAfter %v", e.RetryAfter)
	}

	// After the cool-down one probe goes through; it fails: halve, reopen.
	clock.Advance(10 * time.Second)
	_, err = post(t, context.Background(), c, "/x", `{}`)
	if !errors.Is(err, pipeline.ErrUnavailable) || hits.Load() != 4 {
		t.Fatalf("probe: err %v, hits %d", err, hits.Load())
	}
	if s := c.Stats(); s.Limit != 2 || !s.BreakerOpen {
		t.Fatalf("after failed probe %+v", s)
	}

	// Next probe succeeds: closed, and the limit climbs back additively.
	healthy.Store(true)
	clock.Advance(10 * time.Second)
	var limits []int
	for range 12 {
		resp, err := post(t, context.Background(), c, "/x", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		limits = append(limits, c.Stats().Limit)
	}
	if c.Stats().BreakerOpen {
		t.Fatal("breaker still open")
	}
	// 2 → 2.5 → 2.9 → 3.2 → ... one slot per limit's worth of successes.
	want := []int{2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5}
	for i := range want {
		if limits[i] != want[i] {
			t.Fatalf("limits %v, want %v", limits, want)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "circuit breaker open") || !strings.Contains(out, "circuit breaker closed") || !strings.Contains(out, `"provider":"test"`) {
		t.Fatalf("breaker changes not logged:\n%s", out)
	}
}

func TestConcurrencyLimitQueues(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "x")
		w.(http.Flusher).Flush()
		<-release
	})
	c := newClient(t, Config{BaseURL: srv.URL, MaxConcurrency: 2}, nil)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := post(t, context.Background(), c, "/x", `{}`)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if s := c.Stats(); s.InFlight != 2 {
		t.Errorf("in flight %d, want 2", s.InFlight)
	}
	close(release)
	wg.Wait()
	if peak.Load() != 2 {
		t.Fatalf("server saw %d concurrent calls, want 2", peak.Load())
	}
	if s := c.Stats(); s.InFlight != 0 {
		t.Fatalf("slots leaked: %+v", s)
	}
}

func TestTTFBWatchdog(t *testing.T) {
	tests := []struct {
		name    string
		headers bool // send headers then stall, or stall before anything
	}{
		{"headers but no body", true},
		{"nothing at all", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			done := make(chan struct{})
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tt.headers {
					w.Header().Set("Content-Type", "text/event-stream")
					w.WriteHeader(200)
					w.(http.Flusher).Flush()
				}
				select {
				case <-r.Context().Done():
				case <-done:
				}
			})
			defer close(done)
			const ttfb = 300 * time.Millisecond
			c := newClient(t, Config{BaseURL: srv.URL, TTFB: ttfb}, nil)
			start := time.Now()
			_, err := post(t, context.Background(), c, "/x", `{}`)
			took := time.Since(start)
			t.Logf("TTFB %v tripped after %v", ttfb, took)
			if !errors.Is(err, pipeline.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if took < ttfb || took > ttfb+200*time.Millisecond {
				t.Fatalf("took %v, want ≈ %v", took, ttfb)
			}
			if hits.Load() != 1 {
				t.Fatalf("a TTFB timeout was retried (%d hits)", hits.Load())
			}
		})
	}
}

// hijackClose sends the given raw bytes and drops the connection.
func hijackClose(w http.ResponseWriter, raw string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = buf.WriteString(raw)
	_ = buf.Flush()
	_ = conn.Close()
}

func TestDropBeforeFirstByteIsRetried(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch hits.Add(1) {
		case 1: // connection dies before any response
			hijackClose(w, "")
		case 2: // headers, then the connection dies before the body
			hijackClose(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	c := newClient(t, Config{BaseURL: srv.URL}, nil, WithClock(newFakeClock()))
	resp, err := post(t, context.Background(), c, "/x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" || hits.Load() != 3 {
		t.Fatalf("body %q after %d hits", b, hits.Load())
	}
}

func TestMidStreamDisconnect(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			hijackClose(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
			return
		}
		_, _ = io.WriteString(w, "whole")
	})
	c := newClient(t, Config{BaseURL: srv.URL}, nil, WithClock(newFakeClock()))
	resp, err := post(t, context.Background(), c, "/x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" || !errors.Is(err, pipeline.ErrBadResponse) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %q, err %v; want hello and ErrBadResponse", b, err)
	}
	if hits.Load() != 1 {
		t.Fatal("retried after bytes were handed on")
	}
	resp, err = post(t, context.Background(), c, "/x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "whole" {
		t.Fatalf("next call read %q", b)
	}
}

func TestCancelIsNotAProviderError(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	c := newClient(t, Config{BaseURL: srv.URL}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := post(t, ctx, c, "/x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	n, _ := resp.Body.Read(buf)
	if string(buf[:n]) != "first" {
		t.Fatalf("read %q", buf[:n])
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) || errors.Is(err, pipeline.ErrBadResponse) {
		t.Fatalf("err = %v, want context.Canceled only", err)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Fatal("cancel did not stop the read promptly")
	}
	if c.Stats().BreakerOpen {
		t.Fatal("a cancel counted against the provider")
	}
}

func TestCallTimeout(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-done:
		}
	})
	c := newClient(t, Config{BaseURL: srv.URL, Timeout: 200 * time.Millisecond}, nil)
	resp, err := post(t, context.Background(), c, "/x", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, pipeline.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	clock := newFakeClock()
	c := newClient(t, Config{BaseURL: "http://" + addr}, nil, WithClock(clock))
	_, err = post(t, context.Background(), c, "/x", `{}`)
	if !errors.Is(err, pipeline.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := len(clock.Sleeps()); n != 2 {
		t.Fatalf("%d retries, want 2", n)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	const key = "sk-test-4f9a8b7c6d5e4f3a2b1c"
	const org = "org-4d3c2b1a0f9e"
	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+key {
			t.Errorf("Authorization %q", got)
		}
		if r.Header.Get("OpenAI-Organization") != org {
			t.Error("extra header missing")
		}
		switch hits.Add(1) {
		case 1, 2:
			// Echoed cut short, as a message quoted to a length is.
			openAIError(w, 503, "overloaded; key "+key[:len(key)-2])
		default:
			// Some servers echo the key back.
			openAIError(w, 401, "Incorrect API key provided: "+key+". Organization "+org+".")
		}
	})
	log, logs := newLogger()
	t.Setenv("VOICEGATE_TEST_KEY", key)
	cfg := Config{BaseURL: srv.URL, APIKeyEnv: "VOICEGATE_TEST_KEY", Headers: map[string]Secret{"OpenAI-Organization": org}}
	c := newClient(t, cfg, log, WithClock(newFakeClock()))
	_, err := post(t, context.Background(), c, "/x", `{}`)
	if !errors.Is(err, pipeline.ErrRejected) {
		t.Fatalf("err = %v", err)
	}
	log.Error("call failed", zapAny("config", cfg), zapErr(err))
	log.Info("config", zapAny("key", Secret(key)))
	out := logs.String()
	if !strings.Contains(out, "retrying provider call") {
		t.Fatalf("retries not logged:\n%s", out)
	}
	for _, s := range []string{key, org} {
		if f := leak(out+err.Error(), s, 8); f != "" {
			t.Fatalf("%q leaked:\n%s\n%v", f, out, err)
		}
	}
}
