package speechtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

func TestFlite(t *testing.T) {
	tests := []struct {
		voice, text string
		min, max    float64 // seconds of audio
	}{
		{"slt", "hello", 0.3, 1.5},
		{"slt", "please turn on the kitchen lights", 1.5, 4},
		{"kal16", "set a timer for ten minutes", 1.2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.voice+" "+tt.text, func(t *testing.T) {
			x := Flite(t, tt.voice, tt.text)
			sec := float64(len(x)) / float64(audio.Mono16k.SampleRate)
			if sec < tt.min || sec > tt.max {
				t.Errorf("%.2f s of audio, want %v to %v", sec, tt.min, tt.max)
			}
			var peak int
			for _, s := range x {
				peak = max(peak, abs(int(s)))
			}
			if peak < 1000 {
				t.Errorf("peak %d: near silence", peak)
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// fatalRecorder is a testing.TB whose Fatal and Fatalf record the
// message and end the goroutine, as the testing package's do.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs f with a fatalRecorder and returns what it was failed with.
func failure(t *testing.T, f func(tb testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

func writeWAV(t *testing.T, f audio.Format, samples []int16) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.wav")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := wav.Encode(file, f, samples); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadWAV(t *testing.T) {
	samples := []int16{0, 1, -1, 32767, -32768, 1234}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		want    []int16
		failure string // "" when ReadWAV must succeed
	}{
		{"16 kHz mono", func(t *testing.T) string { return writeWAV(t, audio.Mono16k, samples) }, samples, ""},
		{"8 kHz", func(t *testing.T) string { return writeWAV(t, audio.Format{SampleRate: 8000, Channels: 1}, samples) }, nil, "want 16 kHz mono"},
		{"stereo", func(t *testing.T) string { return writeWAV(t, audio.Format{SampleRate: 16000, Channels: 2}, samples) }, nil, "want 16 kHz mono"},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.wav") }, nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			var got []int16
			msg := failure(t, func(tb testing.TB) { got = ReadWAV(tb, path) })
			if tt.failure == "" {
				if msg != "" {
					t.Fatalf("ReadWAV failed: %s", msg)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("ReadWAV = %v, want %v", got, tt.want)
				}
				return
			}
			if !strings.Contains(msg, tt.failure) {
				t.Errorf("ReadWAV failed with %q, want it to say %q", msg, tt.failure)
			}
		})
	}
}

func TestFliteUnknownVoice(t *testing.T) {
	msg := failure(t, func(tb testing.TB) { Flite(tb, "no-such-voice", "hello") })
	if !strings.Contains(msg, "no-such-voice") {
		t.Errorf("Flite with an unknown voice failed with %q, want it to name the voice", msg)
	}
}
