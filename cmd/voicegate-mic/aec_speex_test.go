//go:build cgo && speexdsp

package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// TestSpeexAECRemovesEcho plays speech-like far-end audio into a simulated
// room (40 ms late, attenuated, slightly smeared) and checks that the
// canceller takes the echo well down once it has converged.
func TestSpeexAECRemovesEcho(t *testing.T) {
	const rate = 16000
	e, err := newEchoCanceller(rate)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	far := pipelinetest.Voice(6*time.Second, rate)
	for i := range far { // a little noise, so the signal is not purely periodic
		far[i] += int16(rng.IntN(400) - 200)
	}
	delay := audio.Mono16k.Samples(40 * time.Millisecond)
	near := make([]int16, len(far))
	for i := range near {
		if j := i - delay; j >= 1 {
			near[i] = int16(0.5*float64(far[j]) + 0.2*float64(far[j-1]))
		}
	}
	frame := audio.Mono16k.Samples(chunk)
	var out []int16
	for i := 0; i+frame <= len(near); i += frame {
		e.Far(far[i : i+frame])
		out = e.Process(out, near[i:i+frame])
	}
	tail := len(out) - audio.Mono16k.Samples(2*time.Second)
	before := audio.DBFS(audio.RMS(near[tail:len(out)]))
	after := audio.DBFS(audio.RMS(out[tail:]))
	t.Logf("echo %.1f dBFS, after the canceller %.1f dBFS (%.1f dB less)", before, after, before-after)
	if before-after < 15 {
		t.Fatalf("echo reduced by %.1f dB, want at least 15", before-after)
	}
}
