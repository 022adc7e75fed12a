//go:build cgo && linux

package silero

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
)

// newTestVAD returns the model from the models directory. Tests that need
// it fail, not skip, without it: make test runs scripts/models.sh first.
func newTestVAD(t testing.TB) *VAD {
	t.Helper()
	v, err := New(Config{})
	if err != nil {
		t.Fatal(err) // which, for a missing model, says to run scripts/models.sh
	}
	return v
}

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "silero_vad_v5.onnx")
	if err := os.WriteFile(notModel, []byte("this is not an onnx model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nowhere", "silero_vad_v5.onnx")
	// A whole ONNX file of another model: IR version 8, a graph of one
	// node, input "x", output "y".
	otherModel := filepath.Join(dir, "other.onnx")
	other := []byte{0x08, 0x08, 0x3a, 0x0c, 0x0a, 0x00, 0x5a, 0x03, 0x0a, 0x01, 'x', 0x62, 0x03, 0x0a, 0x01, 'y'}
	if err := os.WriteFile(otherModel, other, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // in the error
	}{
		{"missing model", Config{Model: missing}, []string{missing, "run scripts/models.sh", "no such file"}},
		{"a directory", Config{Model: dir}, []string{dir, "not an ONNX model", "run scripts/models.sh"}},
		{"not a model", Config{Model: notModel}, []string{notModel, "not an ONNX model"}},
		{"another model", Config{Model: otherModel}, []string{otherModel, "not Silero v5"}},
		{"threshold above 1", Config{Model: notModel, Threshold: 1.5}, []string{"threshold 1.5"}},
		{"negative threshold", Config{Model: notModel, Threshold: -0.1}, []string{"threshold -0.1"}},
		{"too many threads", Config{Model: notModel, Threads: 9}, []string{"threads 9"}},
		{"negative idle", Config{Model: notModel, Idle: -2}, []string{"idle -2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tt.cfg, v)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestModelsDir(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"VOICEGATE_MODELS": "/m", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/m"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/voicegate/models"},
		{map[string]string{"HOME": "/h"}, "/h/.cache/voicegate/models"},
	}
	for _, tt := range tests {
		got, err := ModelsDir(func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("ModelsDir with %v = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
	if _, err := ModelsDir(func(string) string { return "" }); err == nil {
		t.Error("ModelsDir with no environment: no error")
	}
	c, err := Config{}.withDefaults(func(k string) string { return map[string]string{"VOICEGATE_MODELS": "/m"}[k] })
	if err != nil || c.Model != "/m/npm/@ricky0123/vad-web@0.0.31/silero_vad_v5.onnx" || c.Threshold != 0.5 || c.Threads != 1 {
		t.Errorf("defaults %+v, %v", c, err)
	}
}

// TestFliteSpeech: one utterance per sentence, in the right place, in
// quiet and in pink noise.
func TestFliteSpeech(t *testing.T) {
	model := newTestVAD(t)
	if pipeline.NameOf(model) != "silero" {
		t.Errorf("name %q", pipeline.NameOf(model))
	}
	v := newVoices(t)
	speech, truth := compose(t, v)
	for _, snr := range []float64{60, 10} {
		t.Run(fmt.Sprintf("%g dB SNR", snr), func(t *testing.T) {
			c, err := model.NewClassifier()
			if err != nil {
				t.Fatal(err)
			}
			defer c.(*Classifier).Close()
			pcm := mix(speech, truth, pinkNoise(newRand(3), len(speech)), snr)
			found := detect(vad.NewWith(vad.Config{}, rate, c), pcm)
			if len(found) != len(truth) {
				t.Fatalf("%d utterances, want %d: %v", len(found), len(truth), found)
			}
			for i, f := range found {
				start, end := time.Duration(f.start-truth[i].start)*time.Second/rate, time.Duration(f.end-truth[i].end)*time.Second/rate
				// A late start loses nothing while PrefixPadding still
				// reaches back to the true one (at 10 dB the pink noise
				// masks a soft onset such as the /h/ of "how").
				if start < -early*time.Second/rate || start > vad.DefaultConfig().PrefixPadding || end < -150*time.Millisecond || end > 300*time.Millisecond {
					t.Errorf("sentence %d found %+v at the start, %+v at the end", i, start, end)
				}
			}
		})
	}
}

func TestConformance(t *testing.T) {
	model := newTestVAD(t)
	speech := newVoices(t).say(t, "slt", targetSentences[2])
	if err := conformance.TestVoiceActivity(t.Context(), model, pcm16(speech)); err != nil {
		t.Error(err)
	}
}

// TestIdleInstances: closed classifiers' instances are kept, up to Idle,
// and handed to the next sessions; Close frees them.
func TestIdleInstances(t *testing.T) {
	model, err := New(Config{Idle: 2})
	if err != nil {
		t.Fatal(err)
	}
	idle := func() int {
		model.mu.Lock()
		defer model.mu.Unlock()
		return len(model.idle)
	}
	if n := idle(); n != 1 {
		t.Fatalf("%d idle after New, want the one it loaded", n)
	}
	var cs []vad.Classifier
	for range 3 {
		c, err := model.NewClassifier()
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	if n := idle(); n != 0 {
		t.Fatalf("%d idle with three in use", n)
	}
	for _, c := range cs {
		c.(*Classifier).Close()
	}
	if n := idle(); n != 2 {
		t.Fatalf("%d idle after three closed, want Idle (2)", n)
	}
	start := time.Now()
	c, err := model.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Errorf("an idle instance took %v to hand out", d)
	}
	model.Close()
	if n := idle(); n != 0 {
		t.Errorf("%d idle after Close", n)
	}
	c.(*Classifier).Close() // freed, not kept
	if n := idle(); n != 0 {
		t.Errorf("%d idle after a classifier closed after the VAD", n)
	}
	if _, err := model.NewClassifier(); !errors.Is(err, errClosed) {
		t.Errorf("NewClassifier after Close: %v", err)
	}
	if err := model.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestMaxInstances: beyond max_instances a session is told the model is
// full (and the pipeline listens with the energy detector); an instance
// given back makes room again, idle ones count, and a closed VAD frees its
// count with its idle instances.
func TestMaxInstances(t *testing.T) {
	model, err := New(Config{MaxInstances: 2, Idle: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	a, err := model.NewClassifier() // the one New loaded, idle
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := model.NewClassifier(); !errors.Is(err, pipeline.ErrVoiceActivityFull) {
		t.Fatalf("a third instance with max_instances 2: %v, want ErrVoiceActivityFull", err)
	}
	a.(*Classifier).Close() // kept idle: still loaded
	b.(*Classifier).Close() // beyond Idle: freed
	model.mu.Lock()
	live, idle := model.live, len(model.idle)
	model.mu.Unlock()
	if live != 1 || idle != 1 {
		t.Errorf("after both closed: %d loaded, %d idle; want 1 and 1", live, idle)
	}
	for range 2 {
		c, err := model.NewClassifier()
		if err != nil {
			t.Fatalf("room again: %v", err)
		}
		defer c.(*Classifier).Close()
	}
	if _, err := New(Config{MaxInstances: -1}); err == nil {
		t.Error("max_instances -1 accepted")
	}
}

func TestClassifierLifetime(t *testing.T) {
	model := newTestVAD(t)
	vc, err := model.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	c := vc.(*Classifier)
	loud := make([]int16, window)
	for i := range loud {
		loud[i] = int16(8000 * ((i/20)%2*2 - 1)) // a 400 Hz square wave: not silence, not speech
	}
	silence := make([]int16, window)
	for range 10 {
		if p := c.Speech(silence); p != 0 {
			t.Fatalf("silence: %v", p)
		}
	}
	// Short and long windows are accepted.
	c.Speech(loud[:100])
	c.Speech(append(loud, loud...))
	c.Reset()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if p := c.Speech(loud); p != 0 {
		t.Errorf("Speech after Close: %v", p)
	}
	c.Reset()
}

// TestSpeechAllocs: in the steady state neither the classifier nor a
// detector over it allocates per frame, in speech or out of it.
func TestSpeechAllocs(t *testing.T) {
	model := newTestVAD(t)
	v := newVoices(t)
	speech := v.say(t, "slt", targetSentences[0])
	pcm := pcm16(append(slices.Clone(speech), make([]float64, rate)...)) // then a second of silence
	vc, err := model.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	defer vc.(*Classifier).Close()
	d := vad.NewWith(vad.Config{}, rate, vc)
	pos, starts := 0, 0
	frame := func() {
		if pos+320 > len(pcm) {
			pos = 0
		}
		if d.Process(pcm[pos:pos+320]) == vad.SpeechStart {
			starts++
		}
		pos += 320
	}
	for range 200 {
		frame()
	}
	starts = 0
	if n := testing.AllocsPerRun(1000, frame); n != 0 {
		t.Errorf("%v allocations per 20 ms frame through the detector", n)
	}
	if starts == 0 {
		t.Error("no speech start in 20 s of a sentence and a pause, looped: the frames measured were not speech")
	}
	w := pcm[:window]
	if n := testing.AllocsPerRun(1000, func() { vc.Speech(w) }); n != 0 {
		t.Errorf("%v allocations per window", n)
	}
}

// BenchmarkSpeech is the cost of one 32 ms window of speech.
func BenchmarkSpeech(b *testing.B) {
	model := newTestVAD(b)
	v := newVoices(b)
	speech := v.say(b, "slt", targetSentences[1])
	pcm := pcm16(speech)
	vc, err := model.NewClassifier()
	if err != nil {
		b.Fatal(err)
	}
	defer vc.(*Classifier).Close()
	b.ReportAllocs()
	pos := 0
	for b.Loop() {
		if pos+window > len(pcm) {
			pos = 0
		}
		vc.Speech(pcm[pos : pos+window])
		pos += window
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/window")
}

// TestMemoryPerSession measures what each session's model instance adds to
// the process's resident memory, and holds it under 40 MB.
func TestMemoryPerSession(t *testing.T) {
	model := newTestVAD(t)
	window := make([]int16, window)
	open := func(n int) []*Classifier {
		cs := make([]*Classifier, n)
		for i := range cs {
			vc, err := model.NewClassifier()
			if err != nil {
				t.Fatal(err)
			}
			cs[i] = vc.(*Classifier)
			for range 30 { // about a second of audio: buffers allocated
				cs[i].Speech(window)
			}
		}
		return cs
	}
	warm := open(2) // the libraries' first-use costs, and the idle instance New left
	runtime.GC()
	before := rss(t)
	const n = 20
	began := time.Now()
	cs := open(n)
	took := time.Since(began) / n
	runtime.GC()
	per := float64(rss(t)-before) / n / (1 << 20)
	t.Logf("resident memory per session: %.1f MB; a session's model loads (and hears 1 s) in %v (over %d sessions)", per, took.Round(time.Millisecond), n)
	for _, c := range append(warm, cs...) {
		c.Close()
	}
	if per > 40 {
		t.Errorf("%.1f MB per session, want under 40", per)
	}
}

// rss returns the process's resident set in bytes.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}
