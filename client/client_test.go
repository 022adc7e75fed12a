package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/gateway/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dial starts a session against f with fast backoff and registers its Close.
func dial(t *testing.T, f *fakeGateway, mod func(*Config)) (*Session, *recorder) {
	t.Helper()
	return dialURL(t, f.url(), mod)
}

func dialURL(t *testing.T, url string, mod func(*Config)) (*Session, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg := Config{URL: url, Handler: rec.handle, Backoff: Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rec.next(t, "Connected", is[*Connected])
	return s, rec
}

func TestTextTurn(t *testing.T) {
	f := newFakeGateway(t)
	s, rec := dial(t, f, nil)
	if err := s.SendText("hello"); err != nil {
		t.Fatal(err)
	}
	d := rec.next(t, "text delta", is[*protocol.TextDelta]).(*protocol.TextDelta)
	if d.Delta != "you said hello" {
		t.Errorf("delta = %q", d.Delta)
	}
	for want := int16(1); want <= 3; want++ {
		a := rec.next(t, "audio", is[*Audio]).(*Audio)
		if a.Turn != 1 || a.SampleRate != 16000 || len(a.Samples) != 160 || a.Samples[0] != want {
			t.Fatalf("audio %d: turn %d rate %d, %d samples of %d", want, a.Turn, a.SampleRate, len(a.Samples), a.Samples[0])
		}
	}
	rec.next(t, "audio done", is[*protocol.AudioDone])
	done := rec.next(t, "response done", is[*protocol.ResponseDone]).(*protocol.ResponseDone)
	if done.Text != "you said hello" {
		t.Errorf("done text = %q", done.Text)
	}
}

func TestCloseIsNormalClosure(t *testing.T) {
	f := newFakeGateway(t)
	s, _ := dial(t, f, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-f.closeCode:
		if code != websocket.StatusNormalClosure {
			t.Fatalf("gateway saw close %v, want 1000", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("gateway saw no close")
	}
	<-s.Done()
	if err := s.Err(); err != nil {
		t.Fatalf("Err after Close = %v", err)
	}
	if err := s.SendText("late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendText after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestCancelledTurnDropsLateAudio(t *testing.T) {
	f := newFakeGateway(t)
	s, rec := dial(t, f, nil)
	if err := s.SendText("cancel me"); err != nil {
		t.Fatal(err)
	}
	var audio int
	rec.next(t, "response.cancelled", func(ev Event) bool {
		if is[*Audio](ev) {
			audio++
		}
		return is[*protocol.ResponseCancelled](ev)
	})
	// The frame the gateway sent after the cut must not come through; a
	// ping makes sure it has been read.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for len(rec.ch) > 0 {
		if is[*Audio](<-rec.ch) {
			audio++
		}
	}
	if audio != 2 {
		t.Fatalf("got %d audio frames, want the 2 sent before the cut", audio)
	}
}

// TestPausedReplyPassesThrough: response.paused and response.resumed
// reach the handler in order, and the reply's audio after them plays on.
func TestPausedReplyPassesThrough(t *testing.T) {
	f := newFakeGateway(t)
	s, rec := dial(t, f, nil)
	if err := s.SendText("pause me"); err != nil {
		t.Fatal(err)
	}
	var order []string
	frames := 0
	rec.next(t, "response done", func(ev Event) bool {
		switch m := ev.(type) {
		case *protocol.ResponsePause:
			if m.Turn != 1 {
				t.Errorf("%s of turn %d, want 1", m.Type, m.Turn)
			}
			order = append(order, m.Type)
		case *Audio:
			frames++
			order = append(order, "audio")
		}
		return is[*protocol.ResponseDone](ev)
	})
	want := []string{"audio", "audio", protocol.TypeResponsePaused, protocol.TypeResponseResumed, "audio"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", order, want)
	}
}

func TestSendAudioFramesWithinLimit(t *testing.T) {
	f := newFakeGateway(t)
	f.maxFrame = 640
	s, _ := dial(t, f, nil)
	samples := make([]int16, 8000) // 0.5 s, within the 1 s queue even if the writer lags
	for i := 0; i < len(samples); i += 320 {
		if err := s.SendAudio(samples[i : i+320]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendAudio(make([]int16, 1000)); err != nil { // split into 640-byte frames
		t.Fatal(err)
	}
	waitFor(t, "all audio at the gateway", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.audioIn == 2*9000
	})
	if f.biggest > 640 {
		t.Fatalf("largest frame %d bytes, limit 640", f.biggest)
	}
	if s.DroppedAudio() != 0 {
		t.Fatalf("dropped %d frames", s.DroppedAudio())
	}
}

func TestReconnectResumes(t *testing.T) {
	f := newFakeGateway(t)
	s, rec := dial(t, f, nil)
	first := s.Started()
	f.dropAll()
	dis := rec.next(t, "Disconnected", is[*Disconnected]).(*Disconnected)
	if dis.Attempt != 1 || dis.Err == nil {
		t.Fatalf("Disconnected = %+v", dis)
	}
	con := rec.next(t, "Connected", is[*Connected]).(*Connected)
	if !con.Reconnect || con.ResumeFailed || !con.Started.Resumed || con.Started.SessionID != first.SessionID {
		t.Fatalf("Connected = %+v, started %+v; want a resume of %s", con, con.Started, first.SessionID)
	}
	if err := s.SendText("again"); err != nil {
		t.Fatal(err)
	}
	rec.next(t, "response after resume", is[*protocol.ResponseDone])
}

func TestResumeRefusedStartsNewSession(t *testing.T) {
	f := newFakeGateway(t)
	s, rec := dial(t, f, nil)
	first := s.Started()
	f.forget()
	f.dropAll()
	con := rec.next(t, "Connected", is[*Connected]).(*Connected)
	if !con.ResumeFailed || con.Started.Resumed || con.Started.SessionID == first.SessionID {
		t.Fatalf("Connected = %+v, started %+v; want a fresh session", con, con.Started)
	}
	if err := s.SendText("fresh"); err != nil {
		t.Fatal(err)
	}
	rec.next(t, "response in the new session", is[*protocol.ResponseDone])
}

func TestHeartbeatTimeoutRedials(t *testing.T) {
	f := newFakeGateway(t)
	f.set(func() { f.silent = true })
	_, rec := dial(t, f, func(c *Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PingTimeout = 100 * time.Millisecond
	})
	dis := rec.next(t, "Disconnected", is[*Disconnected]).(*Disconnected)
	if !errors.Is(dis.Err, errHeartbeat) {
		t.Fatalf("Disconnected.Err = %v, want a heartbeat timeout", dis.Err)
	}
	con := rec.next(t, "Connected", is[*Connected]).(*Connected)
	if !con.Started.Resumed {
		t.Fatalf("want the session resumed, got %+v", con.Started)
	}
}

func TestHeartbeatReportsRTT(t *testing.T) {
	f := newFakeGateway(t)
	s, rec := dial(t, f, func(c *Config) { c.PingInterval = 20 * time.Millisecond })
	hb := rec.next(t, "Heartbeat", is[*Heartbeat]).(*Heartbeat)
	if hb.RTT <= 0 || hb.RTT > time.Second || s.RTT() <= 0 {
		t.Fatalf("RTT %v, Session.RTT %v", hb.RTT, s.RTT())
	}
}

func TestUnauthorized(t *testing.T) {
	f := newFakeGateway(t)
	f.set(func() { f.apiKey = "right" })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{URL: f.url(), APIKey: "wrong"})
	if code, ok := CodeOf(err); !ok || code != protocol.CodeUnauthorized {
		t.Fatalf("Dial with a wrong key: %v, want code unauthorized", err)
	}
	s, err := Dial(ctx, Config{URL: f.url(), APIKey: "right"})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
}

func TestFatalErrorEndsSession(t *testing.T) {
	f := newFakeGateway(t)
	f.set(func() { f.apiKey = "k" })
	s, rec := dial(t, f, func(c *Config) { c.APIKey = "k" })
	f.set(func() { f.apiKey = "revoked" }) // every redial is refused with 401
	f.dropAll()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if code, _ := CodeOf(s.Err()); code != protocol.CodeUnauthorized {
		t.Fatalf("Err = %v, want unauthorized", s.Err())
	}
	rec.next(t, "Disconnected", is[*Disconnected])
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFakeGateway(t)
	s, _ := dial(t, f, func(c *Config) { c.Backoff.MaxAttempts = 2 })
	f.srv.Close() // nothing listens any more
	f.dropAll()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session did not give up")
	}
	if s.Err() == nil {
		t.Fatal("Err = nil after giving up")
	}
	if err := s.SendAudio(make([]int16, 10)); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendAudio after the end = %v", err)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	top := func(n int64) int64 { return n - 1 } // the largest draw
	for _, tt := range []struct {
		attempt int
		ceiling time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second}} {
		if got := b.Delay(tt.attempt, top) + 1; got != tt.ceiling {
			t.Errorf("attempt %d: ceiling %v, want %v", tt.attempt, got, tt.ceiling)
		}
		if got := b.Delay(tt.attempt, func(int64) int64 { return 0 }); got != 0 {
			t.Errorf("attempt %d: floor %v, want 0", tt.attempt, got)
		}
	}
}

// TestFatalErrorObeysRetryable: after a fatal error event the Session
// redials if, and only if, the gateway said retryable, whatever the code
// and close status.
func TestFatalErrorObeysRetryable(t *testing.T) {
	for _, tt := range []struct {
		code      protocol.Code
		retryable bool
		status    websocket.StatusCode
	}{
		{protocol.CodeSuperseded, false, websocket.StatusNormalClosure},
		{protocol.CodeShuttingDown, false, websocket.StatusServiceRestart}, // the server's word over the code's usual advice
		{protocol.CodeStartTimeout, true, websocket.StatusPolicyViolation},
		{protocol.CodeSessionLimit, true, websocket.StatusTryAgainLater},
	} {
		t.Run(fmt.Sprintf("%s retryable=%v", tt.code, tt.retryable), func(t *testing.T) {
			f := newFakeGateway(t)
			s, rec := dial(t, f, nil)
			f.failAll(tt.code, tt.retryable, tt.status)
			got := rec.next(t, "the error event", is[*Error]).(*Error)
			if got.Code != tt.code || !got.Fatal || got.Retryable != tt.retryable {
				t.Fatalf("error event %+v", got)
			}
			if !tt.retryable {
				select {
				case <-s.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("session did not end")
				}
				if code, _ := CodeOf(s.Err()); code != tt.code {
					t.Fatalf("Err = %v, want %s", s.Err(), tt.code)
				}
				if n := f.dialCount(); n != 1 {
					t.Fatalf("%d connections, want no redial", n)
				}
				return
			}
			dis := rec.next(t, "Disconnected", is[*Disconnected]).(*Disconnected)
			if code, _ := CodeOf(dis.Err); code != tt.code {
				t.Fatalf("Disconnected.Err = %v, want %s", dis.Err, tt.code)
			}
			con := rec.next(t, "Connected", is[*Connected]).(*Connected)
			if !con.Reconnect || !con.Started.Resumed {
				t.Fatalf("Connected = %+v, started %+v; want a resume", con, con.Started)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{errors.New("connection reset"), true},
		{errHeartbeat, true},
		{&Error{Code: protocol.CodeShuttingDown, Fatal: true, Retryable: true}, true},
		{&Error{Code: protocol.CodeShuttingDown, Fatal: true}, false},
		{&Error{Code: protocol.CodeUnauthorized, Fatal: true}, false},
		{fmt.Errorf("client: gave up: %w", &Error{Code: protocol.CodeInternal, Retryable: true}), true},
		{websocket.CloseError{Code: websocket.StatusGoingAway}, true},
		{websocket.CloseError{Code: websocket.StatusServiceRestart}, true},
		{websocket.CloseError{Code: websocket.StatusPolicyViolation}, true},
		{websocket.CloseError{Code: websocket.StatusUnsupportedData}, false},
		{websocket.CloseError{Code: websocket.StatusMessageTooBig}, false},
	} {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestHandshakeRefusal: a refusal carrying the gateway's error event is
// taken at its word; a bare HTTP status is mapped onto the gateway's code.
func TestHandshakeRefusal(t *testing.T) {
	event := func(code protocol.Code, retryable bool) string {
		e := protocol.NewError(code, "refused", true)
		e.Retryable = retryable
		b, _ := json.Marshal(e)
		return string(b)
	}
	for _, tt := range []struct {
		name      string
		status    int
		body      string
		code      protocol.Code // "" for a plain dial error
		retryable bool
	}{
		{"gateway 401", http.StatusUnauthorized, event(protocol.CodeUnauthorized, false), protocol.CodeUnauthorized, false},
		{"gateway 503", http.StatusServiceUnavailable, event(protocol.CodeShuttingDown, true), protocol.CodeShuttingDown, true},
		{"event says otherwise", http.StatusServiceUnavailable, event(protocol.CodeShuttingDown, false), protocol.CodeShuttingDown, false},
		{"bare 401", http.StatusUnauthorized, "no", protocol.CodeUnauthorized, false},
		{"bare 403", http.StatusForbidden, "no", protocol.CodeForbiddenOrigin, false},
		{"bare 429", http.StatusTooManyRequests, "slow down", protocol.CodeSessionLimit, true},
		{"bare 503", http.StatusServiceUnavailable, "<html>", protocol.CodeShuttingDown, true},
		{"bare 502", http.StatusBadGateway, "bad gateway", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := Dial(ctx, Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http")})
			if err == nil {
				t.Fatal("Dial succeeded")
			}
			if code, _ := CodeOf(err); code != tt.code {
				t.Errorf("code %q (%v), want %q", code, err, tt.code)
			}
			if got := retryable(err); got != tt.retryable {
				t.Errorf("retryable(%v) = %v, want %v", err, got, tt.retryable)
			}
		})
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

func BenchmarkSendAudio(b *testing.B) {
	q := newAudioQueue(32000)
	frame := make([]int16, 320)
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		q.push(frame, 8192)
		out, _ = q.pop(out)
	}
}

func TestAudioQueueDropsOldest(t *testing.T) {
	q := newAudioQueue(8) // room for 4 samples
	for v := int16(1); v <= 6; v++ {
		q.push([]int16{v, v}, 4) // one 4-byte frame each
	}
	var got []byte
	var frames []int16
	for {
		var ok bool
		if got, ok = q.pop(got); !ok {
			break
		}
		frames = append(frames, int16(got[0]))
	}
	if len(frames) != 2 || frames[0] != 5 || frames[1] != 6 || q.droppedFrames() != 4 {
		t.Fatalf("kept frames %v, dropped %d; want the newest two, 4 dropped", frames, q.droppedFrames())
	}
}
