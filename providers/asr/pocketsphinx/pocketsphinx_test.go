//go:build cgo && linux

package pocketsphinx_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voicegate/voicegate/providers/asr/pocketsphinx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// chunk is 20 ms at 16 kHz.
const chunk = 320

var sentences = []string{
	"what is the weather like today",
	"please turn on the kitchen lights",
	"set a timer for ten minutes",
	"play some music in the living room",
	"remind me to call my mother tomorrow",
	"how long does it take to drive to the airport",
}

// skipWithoutEngine skips when the model or the flite CLI (which makes the
// test speech) is missing.
func skipWithoutEngine(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(pocketsphinx.DefaultLM); err != nil {
		t.Skipf("pocketsphinx-en-us not installed: %v", err)
	}
	if _, err := exec.LookPath("flite"); err != nil {
		t.Skip("flite CLI not installed (needed to make test speech)")
	}
}

var speechCache sync.Map // text → []int16

// speech returns text spoken by flite's slt voice at 16 kHz.
func speech(t testing.TB, text string) []int16 {
	t.Helper()
	if s, ok := speechCache.Load(text); ok {
		return s.([]int16)
	}
	out := filepath.Join(t.TempDir(), "speech.wav")
	if b, err := exec.Command("flite", "-voice", "slt", "-t", text, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("flite: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rate, channels, samples, err := decodeWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 16000 || channels != 1 {
		t.Fatalf("flite wrote %d Hz, %d channels; want 16000 Hz mono", rate, channels)
	}
	speechCache.Store(text, samples)
	return samples
}

func newRecognizer(t testing.TB, cfg pocketsphinx.Config) *pocketsphinx.Recognizer {
	t.Helper()
	skipWithoutEngine(t)
	start := time.Now()
	r, err := pocketsphinx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("New (loads one decoder): %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { r.Close() })
	return r
}

// result is what streaming one utterance observed.
type result struct {
	final         string
	firstPartial  time.Duration // audio position of the first non-empty partial; -1 if none
	partialBefore bool          // a partial arrived before the last chunk
	writes        []time.Duration
	finish        time.Duration
}

// recognize streams samples in 20 ms chunks.
func recognize(t testing.TB, r *pocketsphinx.Recognizer, samples []int16) result {
	t.Helper()
	ctx := context.Background()
	u, err := r.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	res := result{firstPartial: -1}
	for off := 0; off < len(samples); off += chunk {
		end := min(off+chunk, len(samples))
		start := time.Now()
		p, err := u.Write(samples[off:end])
		res.writes = append(res.writes, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if p != "" && res.firstPartial < 0 {
			res.firstPartial = time.Duration(end) * time.Second / 16000
			res.partialBefore = end < len(samples)
		}
	}
	start := time.Now()
	res.final, err = u.Finish(ctx)
	res.finish = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRecognizeSentences(t *testing.T) {
	r := newRecognizer(t, pocketsphinx.Config{PoolSize: 1})
	var words, errs int
	var writes, finishes []time.Duration
	for _, want := range sentences {
		samples := speech(t, want)
		res := recognize(t, r, samples)
		e := wordErrors(want, res.final)
		words += len(strings.Fields(want))
		errs += e
		writes = append(writes, res.writes...)
		finishes = append(finishes, res.finish)
		t.Logf("%q → %q (%d errors; first partial after %v of %v audio; finish %v)",
			want, res.final, e, res.firstPartial, time.Duration(len(samples))*time.Second/16000, res.finish.Round(time.Millisecond))
		if !res.partialBefore {
			t.Errorf("%q: no partial transcript before the end of the audio", want)
		}
	}
	acc := 1 - float64(errs)/float64(words)
	t.Logf("word accuracy %.1f%% (%d errors in %d words)", 100*acc, errs, words)
	t.Logf("Write per 20 ms chunk: mean %v, p99 %v, max %v (%d chunks); Finish: mean %v, max %v",
		mean(writes), percentile(writes, 0.99), slices.Max(writes), len(writes), mean(finishes), slices.Max(finishes))
	if acc < 0.9 {
		t.Errorf("word accuracy %.1f%%, want at least 90%%", 100*acc)
	}
}

func TestConcurrentUtterances(t *testing.T) {
	r := newRecognizer(t, pocketsphinx.Config{PoolSize: 2})
	ctx := context.Background()
	texts := sentences[:2]
	// Both utterances are open before either is fed: they hold two decoders,
	// the second created by Start.
	us := make([]interface {
		Write([]int16) (string, error)
		Finish(context.Context) (string, error)
		Close() error
	}, len(texts))
	for i := range texts {
		start := time.Now()
		u, err := r.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Start %d: %v", i+1, time.Since(start).Round(time.Millisecond))
		defer u.Close()
		us[i] = u
	}
	got := make([]string, len(texts))
	errc := make(chan error, len(texts))
	var wg sync.WaitGroup
	for i, text := range texts {
		samples := speech(t, text)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < len(samples); off += chunk {
				if _, err := us[i].Write(samples[off:min(off+chunk, len(samples))]); err != nil {
					errc <- err
					return
				}
			}
			f, err := us[i].Finish(ctx)
			got[i] = f
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range texts {
		if e := wordErrors(want, got[i]); e > 1 {
			t.Errorf("concurrent utterance %d: got %q, want %q", i, got[i], want)
		}
	}
}

func TestStartWaitsForFreeDecoder(t *testing.T) {
	r := newRecognizer(t, pocketsphinx.Config{PoolSize: 1})
	u1, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start with the pool exhausted: got %v, want context.DeadlineExceeded", err)
	}

	started := make(chan error, 1)
	go func() {
		u2, err := r.Start(context.Background())
		if err == nil {
			_, err = u2.Write(make([]int16, chunk))
			u2.Close()
		}
		started <- err
	}()
	select {
	case err := <-started:
		t.Fatalf("second Start returned (%v) while the only decoder is in use", err)
	case <-time.After(50 * time.Millisecond):
	}
	u1.Close() // without Finish: Close ends the utterance and frees the decoder
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start still blocked after the decoder was returned")
	}

	// A Start waiting on a closed Recognizer gives up.
	u3, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	go func() { started <- func() error { _, err := r.Start(context.Background()); return err }() }()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	if err := <-started; !errors.Is(err, pocketsphinx.ErrClosed) {
		t.Fatalf("Start waiting on a closed Recognizer: got %v, want ErrClosed", err)
	}
	u3.Close() // frees the decoder of a closed Recognizer
}

func TestClose(t *testing.T) {
	r := newRecognizer(t, pocketsphinx.Config{PoolSize: 1})
	ctx := context.Background()
	u, err := r.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	samples := speech(t, sentences[0])
	if _, err := u.Write(samples[:len(samples)/2]); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := u.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if _, err := u.Write(samples); !errors.Is(err, pocketsphinx.ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}
	if _, err := u.Finish(ctx); !errors.Is(err, pocketsphinx.ErrClosed) {
		t.Errorf("Finish after Close: got %v, want ErrClosed", err)
	}

	// The decoder went back to the pool clean: a whole sentence is
	// recognised on it, with nothing left over from the abandoned half.
	res := recognize(t, r, samples)
	if e := wordErrors(sentences[0], res.final); e > 1 {
		t.Errorf("after an abandoned utterance: got %q, want %q", res.final, sentences[0])
	}

	// Finish twice gives the same transcript; Write after Finish fails.
	u, err = r.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(samples); err != nil {
		t.Fatal(err)
	}
	f1, err1 := u.Finish(ctx)
	f2, err2 := u.Finish(ctx)
	if err1 != nil || err2 != nil || f1 != f2 {
		t.Errorf("Finish twice: %q, %v then %q, %v", f1, err1, f2, err2)
	}
	if _, err := u.Write(samples[:chunk]); err == nil {
		t.Error("Write after Finish succeeded")
	}
	u.Close()

	for range 2 {
		if err := r.Close(); err != nil {
			t.Fatalf("Recognizer.Close: %v", err)
		}
	}
	if _, err := r.Start(ctx); !errors.Is(err, pocketsphinx.ErrClosed) {
		t.Errorf("Start after Close: got %v, want ErrClosed", err)
	}
}

func TestFinishHonoursCancelledContext(t *testing.T) {
	r := newRecognizer(t, pocketsphinx.Config{PoolSize: 1})
	u, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := u.Finish(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Finish with a cancelled ctx: got %v, want context.Canceled", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  pocketsphinx.Config
		want string
	}{
		{"missing LM", pocketsphinx.Config{LM: "/nonexistent/x.lm.bin"}, "LM"},
		{"missing HMM", pocketsphinx.Config{HMM: "/nonexistent"}, "HMM"},
		{"dict is a directory", pocketsphinx.Config{Dict: os.TempDir()}, "Dict"},
		{"preload over pool", pocketsphinx.Config{PoolSize: 1, Preload: 2}, "Preload"},
		{"negative pool", pocketsphinx.Config{PoolSize: -1}, "PoolSize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := pocketsphinx.New(tc.cfg)
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %s", err, tc.want)
			}
		})
	}
}

// TestWriteAllocs proves the steady state allocates nothing: once the
// hypothesis stops changing, Write returns the same string without copying.
func TestWriteAllocs(t *testing.T) {
	r := newRecognizer(t, pocketsphinx.Config{PoolSize: 1})
	u, err := r.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write(speech(t, sentences[1])); err != nil {
		t.Fatal(err)
	}
	silence := make([]int16, chunk)
	for range 100 { // let the hypothesis settle
		if _, err := u.Write(silence); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(200, func() { u.Write(silence) }); a != 0 {
		t.Errorf("Write allocates %v times per 20 ms chunk in the steady state", a)
	}
}

// BenchmarkWrite feeds speech in 20 ms chunks, as a session does.
func BenchmarkWrite(b *testing.B) {
	r := newRecognizer(b, pocketsphinx.Config{PoolSize: 1})
	samples := speech(b, sentences[5])
	ctx := context.Background()
	u, err := r.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	off := 0
	for b.Loop() {
		if off+chunk > len(samples) {
			b.StopTimer()
			u.Close()
			if u, err = r.Start(ctx); err != nil {
				b.Fatal(err)
			}
			off = 0
			b.StartTimer()
		}
		if _, err := u.Write(samples[off : off+chunk]); err != nil {
			b.Fatal(err)
		}
		off += chunk
	}
	b.StopTimer()
	u.Close()
	// Real-time factor: CPU time per 20 ms of audio over 20 ms.
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(20*time.Millisecond), "rtf")
}

// wordErrors is the word-level edit distance between want and got.
func wordErrors(want, got string) int {
	w, g := strings.Fields(strings.ToLower(want)), strings.Fields(strings.ToLower(got))
	prev := make([]int, len(g)+1)
	cur := make([]int, len(g)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(w); i++ {
		cur[0] = i
		for j := 1; j <= len(g); j++ {
			sub := prev[j-1]
			if w[i-1] != g[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(g)]
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}
