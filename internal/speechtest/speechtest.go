// Package speechtest gives tests real synthesized speech: flite's voices,
// as 16 kHz mono samples. Only tests import it (it links package testing).
package speechtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// Flite returns text spoken by flite's voice (slt, awb, rms, kal16, …) as
// 16 kHz mono samples. It fails tb when flite cannot say it or writes
// another format (as it does for a voice it does not know: it falls back
// to its 8 kHz one).
func Flite(tb testing.TB, voice, text string) []int16 {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "speech.wav")
	if out, err := exec.Command("flite", "-voice", voice, "-t", text, "-o", path).CombinedOutput(); err != nil {
		tb.Fatalf("flite -voice %s: %v: %s", voice, err, out)
	}
	samples, err := readWAV(path)
	if err != nil {
		tb.Fatalf("flite -voice %s: %v", voice, err)
	}
	return samples
}

// ReadWAV returns the samples of a 16 kHz mono WAV file. It fails tb when
// the file cannot be read or is in another format.
func ReadWAV(tb testing.TB, path string) []int16 {
	tb.Helper()
	samples, err := readWAV(path)
	if err != nil {
		tb.Fatal(err)
	}
	return samples
}

func readWAV(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	format, samples, err := wav.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if format != audio.Mono16k {
		return nil, fmt.Errorf("%s is %v, want 16 kHz mono", path, format)
	}
	return samples, nil
}
