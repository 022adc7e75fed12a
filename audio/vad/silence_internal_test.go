package vad

import (
	"testing"
	"time"
)

// TestDigitalSilenceLeavesNoSubnormalState: after speech, a long run of
// exact zeros (a muted microphone, a phone line's silence) brings the
// high-pass state to exactly 0, not to a subnormal float that rounds to
// itself and makes every later sample slow; and speech after it is found
// as before.
func TestDigitalSilenceLeavesNoSubnormalState(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		d := New(Config{Silence: 300 * time.Millisecond}, rate)
		per := rate / 50
		voice := make([]int16, per)
		for i := range voice {
			voice[i] = int16(3000 * ((i % 37) - 18) / 18)
		}
		zeros := make([]int16, per)
		for range 25 {
			d.Process(voice)
		}
		for range 300 { // 6 s
			d.Process(zeros)
		}
		if y := d.st.hpY; y != 0 {
			t.Errorf("%d Hz: high-pass state %g after 6 s of zeros, want 0", rate, y)
		}
		started := false
		for range 50 {
			if d.Process(voice) == SpeechStart {
				started = true
			}
		}
		if !started {
			t.Errorf("%d Hz: speech after the silence was not found", rate)
		}
	}
}

// BenchmarkProcessDigitalSilence is a 20 ms frame of zeros long after
// speech: the state a muted client leaves the detector in.
func BenchmarkProcessDigitalSilence(b *testing.B) {
	d := New(Config{Silence: 300 * time.Millisecond}, 16000)
	voice := make([]int16, 320)
	for i := range voice {
		voice[i] = int16(3000 * ((i % 37) - 18) / 18)
	}
	zeros := make([]int16, 320)
	for range 25 {
		d.Process(voice)
	}
	for range 300 {
		d.Process(zeros)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.Process(zeros)
	}
}
