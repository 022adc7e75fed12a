package vad

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
)

// TestSetSilence runs the same speech and pause through detectors whose
// silence is changed while the speech goes on, and checks where the
// utterance ends.
func TestSetSilence(t *testing.T) {
	const rate = 16000
	voice, _ := speech(rand.New(rand.NewPCG(1, 2)), rate, 400*time.Millisecond, -20)
	spoken := toPCM(voice)
	tests := []struct {
		name    string
		silence time.Duration // set during the speech
		pause   time.Duration // of silence after it
		wantEnd bool
	}{
		{"lengthened past the pause", 1200 * time.Millisecond, 700 * time.Millisecond, false},
		{"lengthened, the pause longer", 600 * time.Millisecond, 700 * time.Millisecond, true},
		{"shortened below the default", 300 * time.Millisecond, 350 * time.Millisecond, true},
		{"default holds the same pause", 500 * time.Millisecond, 350 * time.Millisecond, false},
		{"below a window is one window", time.Millisecond, 30 * time.Millisecond, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := New(Config{}, rate)
			frame := rate / 50
			in := append(append(make([]int16, rate/2), spoken...), make([]int16, audio.Mono16k.Samples(tc.pause))...)
			ended := false
			for pos := 0; pos+frame <= len(in); pos += frame {
				if d.Process(in[pos:pos+frame]) == SpeechEnd {
					ended = true
				}
				if d.Speaking() {
					d.SetSilence(tc.silence)
				}
			}
			if ended != tc.wantEnd {
				t.Errorf("ended %v after %v of silence at silence %v (now %v), want %v", ended, tc.pause, tc.silence, d.Silence(), tc.wantEnd)
			}
			if got := d.Config().Silence; got != DefaultConfig().Silence {
				t.Errorf("Config().Silence %v changed", got)
			}
		})
	}
}

func TestSetSilenceAllocs(t *testing.T) {
	d := New(Config{}, 16000)
	if n := testing.AllocsPerRun(100, func() { d.SetSilence(time.Second) }); n != 0 {
		t.Errorf("SetSilence: %v allocs", n)
	}
}
