//go:build cgo && linux

package sherpa

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realONNX returns a whole ONNX model that is none of the ASR kinds: the
// Silero VAD model, from the models directory (scripts/models.sh).
func realONNX(t *testing.T) []byte {
	t.Helper()
	dir := os.Getenv("VOICEGATE_MODELS")
	if dir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			base = filepath.Join(os.Getenv("HOME"), ".cache")
		}
		dir = filepath.Join(base, "voicegate", "models")
	}
	b, err := os.ReadFile(filepath.Join(dir, "npm/@ricky0123/vad-web@0.0.31/silero_vad_v5.onnx"))
	if err != nil {
		t.Fatalf("%v: run scripts/models.sh", err)
	}
	return b
}

// dirOf fills a directory for kind with model as every ONNX file.
func dirOf(t *testing.T, kind string, model []byte) string {
	t.Helper()
	dir := t.TempDir()
	fit(t, dir, kind)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".onnx") {
			write(t, filepath.Join(dir, e.Name()), model)
		}
	}
	return dir
}

// TestEngineNeverAborts: files the engine would abort or exit the process
// on are refused before it sees them, with an error naming the file. (That
// this test goes on running is half of what it checks.)
func TestEngineNeverAborts(t *testing.T) {
	other := realONNX(t)
	for _, kind := range Kinds() {
		t.Run(kind+" with text for models", func(t *testing.T) {
			r, err := New(Config{Dir: dirOf(t, kind, []byte("not a model\n")), Kind: kind})
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), "not an ONNX model") || !strings.Contains(err.Error(), ".onnx") {
				t.Errorf("error %q does not name the file that is not a model", err)
			}
		})
		if kind == KindMoonshine {
			continue // the engine reads no metadata from it: see TestMoonshineWrongModel
		}
		t.Run(kind+" with another model", func(t *testing.T) {
			r, err := New(Config{Dir: dirOf(t, kind, other), Kind: kind})
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), "lacks the metadata") {
				t.Errorf("error %q does not say the model is of another kind", err)
			}
		})
	}
}

// TestMoonshineWrongModel: the engine loads any ONNX file as a Moonshine
// model and fails at decoding, which it reports as an empty result: the
// utterance gives "", the process goes on. It also walks the Recognizer's
// lifetime with the real engine.
func TestMoonshineWrongModel(t *testing.T) {
	r, err := New(Config{Dir: dirOf(t, KindMoonshine, realONNX(t)), Kind: KindMoonshine, PoolSize: 1, MaxAudio: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "sherpa:moonshine" {
		t.Errorf("name %q", r.Name())
	}
	ctx := context.Background()
	u, err := r.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The pool holds one: a second Start waits, until its context ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := r.Start(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start on a full pool: %v", err)
	}
	second := make([]int16, 16000)
	if p, err := u.Write(second); p != "" || err != nil {
		t.Errorf("Write: %q, %v", p, err)
	}
	if _, err := u.Write(append(second, second...)); !errors.Is(err, ErrTooLong) {
		t.Errorf("Write past max_audio: %v", err)
	}
	text, err := u.Finish(ctx)
	if text != "" || err != nil {
		t.Errorf("Finish: %q, %v", text, err)
	}
	if _, err := u.Finish(ctx); err == nil {
		t.Error("second Finish succeeded")
	}
	for range 2 {
		if err := u.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := u.Write(second); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	u, err = r.Start(ctx) // the slot is free again
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	for range 2 {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}
