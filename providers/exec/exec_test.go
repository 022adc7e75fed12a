package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func speech(d time.Duration) []int16 {
	s := make([]int16, audio.Mono16k.Samples(d))
	for i := range s {
		s[i] = int16(5000 * math.Sin(float64(i)/7))
	}
	return s
}

func recognize(t *testing.T, r *Recognizer, ctx context.Context, samples []int16) (string, error) {
	t.Helper()
	u, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write(samples); err != nil {
		t.Fatal(err)
	}
	return u.Finish(ctx)
}

func TestRecognizerReadsWAVPrintsText(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.wav")
	r, err := NewRecognizer(ASRConfig{
		Name:    "fake-whisper",
		Command: []string{"sh", "-c", `cat > "$OUT"; printf '  turn it up \n'`},
		Env:     []string{"OUT=" + in},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pcm := speech(800 * time.Millisecond)
	text, err := recognize(t, r, context.Background(), pcm)
	if err != nil || text != "turn it up" {
		t.Fatalf("%q, %v", text, err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format, got, err := wav.Decode(f)
	if err != nil || format != audio.Mono16k || len(got) != len(pcm) || got[77] != pcm[77] {
		t.Fatalf("command got %v, %d samples, %v", format, len(got), err)
	}
}

func TestRecognizerFailures(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		kind    error
		want    string
		within  time.Duration
	}{
		{"exit status with stderr", `echo "model file not found" >&2; exit 3`, 0, pipeline.ErrUnavailable, "exit status 3: model file not found", time.Second},
		{"stderr is bounded", `head -c 100000 /dev/zero | tr '\0' x >&2; echo END >&2; exit 1`, 0, pipeline.ErrUnavailable, "xxxEND", time.Second},
		{"timeout kills the group", `sleep 30; echo never`, 200 * time.Millisecond, pipeline.ErrTimeout, "did not finish within 200ms", 700 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRecognizer(ASRConfig{Command: []string{"sh", "-c", tt.script}, Timeout: tt.timeout, Content: Content{LogContent: true}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = recognize(t, r, context.Background(), speech(100*time.Millisecond))
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v with %q", err, tt.kind, tt.want)
			}
			if len(err.Error()) > stderrTail+200 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			if took := time.Since(start); took > tt.within {
				t.Fatalf("took %v", took)
			}
		})
	}
}

func TestRecognizerCancel(t *testing.T) {
	r, err := NewRecognizer(ASRConfig{Command: []string{"sh", "-c", "sleep 30"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = recognize(t, r, ctx, speech(100*time.Millisecond))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 600*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := NewRecognizer(ASRConfig{Command: []string{"/no/such/engine"}}, nil); err == nil {
		t.Fatal("missing command accepted")
	}
	if _, err := NewRecognizer(ASRConfig{}, nil); err == nil {
		t.Fatal("empty command accepted")
	}
	if _, err := NewSynthesizer(TTSConfig{Command: []string{"cat"}, SampleRate: 12345}, nil); err == nil {
		t.Fatal("bad rate accepted")
	}
	if _, err := NewSynthesizer(TTSConfig{Command: []string{"cat"}, SampleRate: 16000, Env: []string{"NOEQUALS"}}, nil); err == nil {
		t.Fatal("bad env accepted")
	}
}

func TestSynthesizerStreams(t *testing.T) {
	dir := t.TempDir()
	want := make([]int16, 16000)
	for i := range want {
		want[i] = int16(i*7 - 30000)
	}
	raw := audio.EncodePCM16(nil, want)
	a, b := filepath.Join(dir, "a.pcm"), filepath.Join(dir, "b.pcm")
	_ = os.WriteFile(a, raw[:4801], 0o600) // odd: a sample split across the two writes
	_ = os.WriteFile(b, raw[4801:], 0o600)
	gate, txt := filepath.Join(dir, "go"), filepath.Join(dir, "text")
	s, err := NewSynthesizer(TTSConfig{
		Name:       "fake-piper",
		Command:    []string{"sh", "-c", `cat > "$TXT"; cat "$A"; while [ ! -e "$GATE" ]; do sleep 0.01; done; cat "$B"`},
		Env:        []string{"A=" + a, "B=" + b, "GATE=" + gate, "TXT=" + txt},
		SampleRate: 16000,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Format() != audio.Mono16k {
		t.Fatal(s.Format())
	}
	var got []int16
	start := time.Now()
	var first time.Duration
	err = s.Synthesize(context.Background(), "Hello, world.", func(pcm []int16) error {
		if len(got) == 0 {
			first = time.Since(start)
			// The process is now blocked until we open the gate: audio
			// arrived while it was still running.
			if err := os.WriteFile(gate, nil, 0o600); err != nil {
				t.Error(err)
			}
		}
		got = append(got, pcm...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d = %d, want %d", i, got[i], want[i])
		}
	}
	if b, _ := os.ReadFile(txt); string(b) != "Hello, world." {
		t.Fatalf("stdin got %q", b)
	}
	t.Logf("first audio from a process after %v", first)
}

func TestSynthesizerStops(t *testing.T) {
	endless := []string{"sh", "-c", "cat >/dev/null; cat /dev/zero"} // cat is a grandchild
	s, err := NewSynthesizer(TTSConfig{Command: endless, SampleRate: 16000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("listener left")
	start := time.Now()
	if err := s.Synthesize(context.Background(), "hi", func([]int16) error { return stop }); err != stop {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = s.Synthesize(ctx, "hi", func([]int16) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("stopping took %v", took)
	}

	s, _ = NewSynthesizer(TTSConfig{Command: []string{"sh", "-c", "echo 'voice not installed' >&2; exit 2"}, SampleRate: 22050, Content: Content{LogContent: true}}, nil)
	err = s.Synthesize(context.Background(), "hi", func([]int16) error { return nil })
	if !errors.Is(err, pipeline.ErrUnavailable) || !strings.Contains(err.Error(), "voice not installed") {
		t.Fatalf("err = %v", err)
	}
}

// TestStderrOnlyWithLogContent: engines that echo what they were given on
// stderr put it into their errors, which are logged, only when LogContent
// is set; otherwise the error carries its length and keyed fingerprint.
func TestStderrOnlyWithLogContent(t *testing.T) {
	const said = "my PIN is 4921"
	hasher, err := pipeline.NewContentHasher([]byte("operator-content-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	run := map[string]func(Content) error{
		"asr": func(c Content) error {
			// A recogniser that prints what it heard on stderr, then fails.
			r, err := NewRecognizer(ASRConfig{Command: []string{"sh", "-c", "cat >/dev/null; echo 'heard: " + said + "' >&2; exit 1"}, Content: c}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = recognize(t, r, context.Background(), speech(100*time.Millisecond))
			return err
		},
		"tts": func(c Content) error {
			// A synthesiser that echoes its input on stderr, then fails.
			s, err := NewSynthesizer(TTSConfig{Command: []string{"sh", "-c", `echo "speaking: $(cat)" >&2; exit 1`}, SampleRate: 16000, Content: c}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s.Synthesize(context.Background(), said, func([]int16) error { return nil })
		},
	}
	stderr := map[string]string{"asr": "heard: " + said, "tts": "speaking: " + said}
	for stage, call := range run {
		t.Run(stage, func(t *testing.T) {
			err := call(Content{ContentHasher: hasher})
			if !errors.Is(err, pipeline.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), "4921") {
				t.Errorf("stderr in the error without log_content: %v", err)
			}
			want := fmt.Sprintf("%d bytes, hmac %s", len(stderr[stage]), hasher.Sum(stderr[stage]))
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to say %q", err, want)
			}

			// Without a hasher, the provider makes its own: still no text.
			if err := call(Content{}); err == nil || strings.Contains(err.Error(), "4921") || !strings.Contains(err.Error(), "hmac ") {
				t.Errorf("default hasher: err = %v", err)
			}

			err = call(Content{LogContent: true, ContentHasher: hasher})
			if !strings.Contains(err.Error(), stderr[stage]) {
				t.Errorf("with log_content, err = %v, want stderr %q", err, stderr[stage])
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ij"} {
		_, _ = tb.Write([]byte(s))
	}
	if tb.String() != "…cdefghij" {
		t.Fatalf("%q", tb.String())
	}
	_, _ = tb.Write([]byte("0123456789"))
	if tb.String() != "…23456789" {
		t.Fatalf("%q", tb.String())
	}
}

// TestRealEngine runs the espeak-ng + sox command from docs/providers.md
// when both are installed.
func TestRealEngine(t *testing.T) {
	for _, bin := range []string{"espeak-ng", "sox"} {
		if _, err := osexec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	s, err := NewSynthesizer(TTSConfig{
		Name: "espeak",
		Command: []string{"sh", "-c",
			"espeak-ng --stdin --stdout | sox -q -t wav - -t raw -e signed-integer -b 16 -c 1 -r 16000 -"},
		SampleRate: 16000,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var first time.Duration
	n := 0
	err = s.Synthesize(context.Background(), "The quick brown fox jumps over the lazy dog.", func(pcm []int16) error {
		if n == 0 {
			first = time.Since(start)
		}
		n += len(pcm)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := audio.Mono16k.Duration(n)
	if d < time.Second || d > 6*time.Second {
		t.Fatalf("%v of audio", d)
	}
	t.Logf("espeak-ng|sox: first audio after %v, %v of audio in %v", first, d, time.Since(start))
}

// TestPumpAllocatesPerCallNotPerChunk: the per-chunk path allocates
// nothing; only the call's two buffers are made.
func TestPumpAllocatesPerCallNotPerChunk(t *testing.T) {
	raw := make([]byte, 1<<20+1) // 256 reads, an odd byte at the end
	var r bytes.Reader
	emit := func([]int16) error { return nil }
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(raw)
		_ = pump(&r, emit)
	})
	if allocs > 2 {
		t.Fatalf("%v allocations per 256-chunk stream", allocs)
	}
}

func TestName(t *testing.T) {
	r, err := NewRecognizer(ASRConfig{Command: []string{"cat"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSynthesizer(TTSConfig{Name: "piper", Command: []string{"cat", "-u"}, SampleRate: 16000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "exec:cat" || s.Name() != "piper:cat" {
		t.Fatalf("names %q, %q", r.Name(), s.Name())
	}
}
