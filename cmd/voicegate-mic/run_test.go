package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/audio/wav"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// TestRunFileInFileOut runs the whole program with --in and --out and no
// audio device (the path a build without cgo has) against the real gateway
// with the pipeline's fakes.
func TestRunFileInFileOut(t *testing.T) {
	srv, err := gateway.New(gateway.Options{
		Registry: prometheus.NewRegistry(),
		Stages: pipeline.Stages{
			ASR: &pipelinetest.Scripted{Transcripts: []string{"turn on the kitchen lights"}, Latency: 10 * time.Millisecond},
			LLM: &echo.Echo{},
			TTS: &pipelinetest.Tone{Rate: 16000, PerRune: 20 * time.Millisecond},
		},
		VAD: vad.Config{Silence: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	}()

	dir := t.TempDir()
	in := filepath.Join(dir, "in.wav")
	speech := pipelinetest.Concat(pipelinetest.Silence(300*time.Millisecond, 22050),
		pipelinetest.Voice(700*time.Millisecond, 22050), pipelinetest.Silence(100*time.Millisecond, 22050))
	writeWAV(t, in, audio.Format{SampleRate: 22050, Channels: 1}, speech) // resampled on the way
	out := filepath.Join(dir, "out.wav")
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()

	start := time.Now()
	err = run([]string{"--url", "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws", "--in", in, "--out", out, "--mute"}, nil, stdout)
	printed, _ := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, printed)
	}
	t.Logf("run took %v; it printed:\n%s", time.Since(start).Round(time.Millisecond), printed)
	for _, want := range []string{"you: turn on the kitchen lights", "assistant: You said: turn on the kitchen lights", "heard: turn 1", "state: closed"} {
		if !strings.Contains(string(printed), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format, got, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// The tone lasts 20 ms per rune of "You said: turn on the kitchen
	// lights." (38 runes): 760 ms, played out whole before the exit.
	if d := format.Duration(len(got)); format.SampleRate != 48000 || d < 700*time.Millisecond || d > 900*time.Millisecond {
		t.Fatalf("out.wav: %v of %v, want about 760ms at 48000 Hz", d, format)
	}
	if audio.DBFS(audio.RMS(got)) < -40 {
		t.Fatal("out.wav is silent")
	}
}

func writeWAV(t *testing.T, path string, f audio.Format, s []int16) {
	t.Helper()
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := wav.Encode(file, f, s); err != nil {
		t.Fatal(err)
	}
}
