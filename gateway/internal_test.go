package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

func TestClassify(t *testing.T) {
	stage := func(err error) error {
		return &pipeline.StageError{Stage: pipeline.StageLLM, Provider: "x", Turn: 3, Err: err}
	}
	const (
		fatal = true
		retry = true
	)
	tests := []struct {
		err       error
		code      protocol.Code
		fatal     bool
		status    websocket.StatusCode
		retryable bool
	}{
		{stage(fmt.Errorf("dial: %w", pipeline.ErrTimeout)), protocol.CodeProviderTimeout, !fatal, 0, retry},
		{stage(fmt.Errorf("429: %w", pipeline.ErrRateLimited)), protocol.CodeProviderRateLimit, !fatal, 0, retry},
		{stage(pipeline.ErrUnavailable), protocol.CodeProviderDown, !fatal, 0, retry},
		{stage(pipeline.ErrRejected), protocol.CodeProviderRejected, !fatal, 0, !retry},
		{stage(pipeline.ErrBadResponse), protocol.CodeProviderError, !fatal, 0, retry},
		{stage(errors.New("boom")), protocol.CodeProviderError, !fatal, 0, retry},
		{fmt.Errorf("x: %w", pipeline.ErrRateLimited), protocol.CodeProviderRateLimit, !fatal, 0, retry},
		{pipeline.ErrTextTooLong, protocol.CodeTextTooLong, !fatal, 0, !retry},
		{pipeline.ErrBusy, protocol.CodeBusy, !fatal, 0, retry},
		{protocol.Errorf(protocol.CodeInvalidJSON, "x"), protocol.CodeInvalidJSON, !fatal, 0, !retry},
		{protocol.Errorf(protocol.CodeFrameTooLarge, "x"), protocol.CodeFrameTooLarge, fatal, websocket.StatusMessageTooBig, !retry},
		{protocol.Errorf(protocol.CodeUnsupportedRate, "x"), protocol.CodeUnsupportedRate, fatal, websocket.StatusUnsupportedData, !retry},
		{protocol.Errorf(protocol.CodeStartTimeout, "x"), protocol.CodeStartTimeout, fatal, websocket.StatusPolicyViolation, retry},
		{protocol.Errorf(protocol.CodeSlowConsumer, "x"), protocol.CodeSlowConsumer, fatal, websocket.StatusPolicyViolation, retry},
		{protocol.Errorf(protocol.CodeHeartbeatTimeout, "x"), protocol.CodeHeartbeatTimeout, fatal, websocket.StatusGoingAway, retry},
		{protocol.Errorf(protocol.CodeShuttingDown, "x"), protocol.CodeShuttingDown, fatal, websocket.StatusServiceRestart, retry},
		{protocol.Errorf(protocol.CodeSessionLimit, "x"), protocol.CodeSessionLimit, fatal, websocket.StatusTryAgainLater, retry},
		{protocol.Errorf(protocol.CodeSuperseded, "x"), protocol.CodeSuperseded, fatal, websocket.StatusNormalClosure, !retry},
		{errors.New("surprise"), protocol.CodeInternal, fatal, websocket.StatusInternalError, retry},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			got, ok := classify(tt.err)
			if want := (errorClass{tt.code, tt.fatal, tt.status, tt.retryable}); !ok || got != want {
				t.Errorf("classify = %+v, %v; want %+v", got, ok, want)
			}
		})
	}
	for _, err := range []error{nil, context.Canceled, fmt.Errorf("read: %w", context.Canceled),
		websocket.CloseError{Code: websocket.StatusNormalClosure}, websocket.CloseError{Code: websocket.StatusGoingAway}} {
		if _, ok := classify(err); ok {
			t.Errorf("classify(%v) is an error to report", err)
		}
	}
}

func TestSessionStoreExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newSessionStore(time.Minute)
	c1, c2 := &connection{}, &connection{}
	st := &sessionState{id: "a", owner: anonymous}
	tok := s.create(st, c1, now)
	if _, _, _, ok := s.resume("nope", anonymous, c2, now); ok {
		t.Fatal("unknown token resumed")
	}
	if _, _, _, ok := s.resume(tok, "mallory", c2, now); ok {
		t.Fatal("another principal resumed the session")
	}
	got, tok2, prev, ok := s.resume(tok, anonymous, c2, now)
	if !ok || got != st || prev != c1 || tok2 == tok {
		t.Fatalf("resume = %v %v %v", got, prev, ok)
	}
	s.detach(st, c1, now) // stale: st is on c2 now
	if st.conn != c2 {
		t.Fatal("stale detach took effect")
	}
	s.detach(st, c2, now)
	if _, _, _, ok := s.resume(tok2, anonymous, c1, now.Add(2*time.Minute)); ok {
		t.Fatal("expired session resumed")
	}
	if s.len() != 0 {
		t.Fatalf("expired session not swept: %d left", s.len())
	}
}

// BenchmarkFrameHotPath drives the reader's per-frame path — read the
// message into the reused buffer, decode PCM16, resample to 16 kHz and
// queue for the pipeline — over an in-memory 20 ms frame, at the pipeline's
// own rate (no resampling) and at 48 kHz. It must not allocate.
func BenchmarkFrameHotPath(b *testing.B) {
	for _, rate := range []int{16000, 48000} {
		b.Run(fmt.Sprintf("%dHz", rate), func(b *testing.B) {
			sess, err := pipeline.NewSession(pipeline.Config{
				Stages:       pipeline.Stages{LLM: &echo.Echo{}, TTS: &pipelinetest.Tone{}},
				Conversation: pipeline.NewConversation("", 0),
				Input:        audio.Format{SampleRate: rate, Channels: 1},
			})
			if err != nil {
				b.Fatal(err)
			}
			pcm := audio.EncodePCM16(nil, pipelinetest.Voice(20*time.Millisecond, rate))
			in := audioIn{sink: sess, samples: make([]int16, 0, DefaultConfig().MaxFrameBytes/2),
				framesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}), dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})}
			buf := make([]byte, 2048)
			frame := &frameReader{}
			var r io.Reader = frame
			b.SetBytes(int64(len(pcm)))
			b.ReportAllocs()
			for b.Loop() {
				frame.reset(pcm)
				n, err := readMessage(r, &buf, DefaultConfig().MaxFrameBytes)
				if err != nil || n != len(pcm) {
					b.Fatal(n, err)
				}
				if err := in.write(buf[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// frameReader is a reusable in-memory message, read like a WebSocket
// message reader: data, then io.EOF.
type frameReader struct {
	data []byte
	off  int
}

func (f *frameReader) reset(b []byte) { f.data, f.off = b, 0 }

func (f *frameReader) Read(p []byte) (int, error) {
	if f.off >= len(f.data) {
		return 0, io.EOF
	}
	n := copy(p, f.data[f.off:])
	f.off += n
	return n, nil
}

func TestTicketStore(t *testing.T) {
	now := time.Unix(1000, 0)
	ts := newTicketStore(2)
	a, _, ok := ts.mint("alice", now)
	if !ok {
		t.Fatal("mint refused")
	}
	b, _, _ := ts.mint("bob", now.Add(10*time.Second))
	if _, retry, ok := ts.mint("carol", now.Add(20*time.Second)); ok || retry != 40*time.Second {
		t.Fatalf("third ticket: ok %v, retry after %v; want refused, 40s", ok, retry)
	}
	if who, ok := ts.redeem(a, now.Add(59*time.Second)); !ok || who != "alice" {
		t.Fatalf("redeem = %q %v", who, ok)
	}
	if _, ok := ts.redeem(a, now.Add(59*time.Second)); ok {
		t.Fatal("a ticket redeemed twice")
	}
	if _, ok := ts.redeem(b, now.Add(71*time.Second)); ok {
		t.Fatal("an expired ticket redeemed")
	}
	// Expired tickets make room when the store is full.
	ts.mint("dave", now.Add(80*time.Second))
	ts.mint("erin", now.Add(80*time.Second))
	if _, _, ok := ts.mint("frank", now.Add(150*time.Second)); !ok || ts.len() != 1 {
		t.Fatalf("expired tickets not swept: ok %v, %d held", ok, ts.len())
	}
}

func TestKeyringPrincipals(t *testing.T) {
	k := newKeyring([]string{"key-one-0123456789", "key-two-0123456789"})
	one, ok1 := k.match([]string{"key-one-0123456789"})
	two, ok2 := k.match([]string{"nope", "key-two-0123456789"})
	if !ok1 || !ok2 || one == two || one == anonymous || !k.valid(one) || !k.valid(two) {
		t.Fatalf("principals %q %v, %q %v", one, ok1, two, ok2)
	}
	if strings.Contains(string(one), "key-one") {
		t.Fatal("the principal shows the key")
	}
	if _, ok := k.match([]string{"key-one-012345678"}); ok {
		t.Fatal("a prefix of a key matched")
	}
	if k.valid(anonymous) || newKeyring(nil).valid(one) || !newKeyring(nil).valid(anonymous) {
		t.Fatal("anonymous is valid exactly when there are no keys")
	}
}

// TestSessionFileWithoutOwner: sessions saved before sessions had owners
// are not restored: nobody can show they are theirs.
func TestSessionFileWithoutOwner(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "sessions.json")
	key := make([]byte, sha256.Size)
	b, _ := json.Marshal(map[string]any{"version": 1, "sessions": []map[string]any{
		{"id": "old", "key": key, "input_rate": 16000, "output_rate": 16000, "detached": now, "turns": 1},
	}})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSessionStore(time.Minute)
	n, ownerless, err := s.load(path, now, func(string) (*pipeline.Conversation, string) { return pipeline.NewConversation("", 0), "en" })
	if err != nil || n != 0 || ownerless != 1 || s.len() != 0 {
		t.Fatalf("load = %d, %d, %v; %d held", n, ownerless, err, s.len())
	}
}
