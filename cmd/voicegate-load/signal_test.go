package main

import (
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/vad"
)

// TestSpeechLikeIsOneUtterance checks that the pipeline's VAD hears the
// synthetic utterance as speech from start to end and endpoints it exactly
// Silence after the last voiced frame (to within a frame).
func TestSpeechLikeIsOneUtterance(t *testing.T) {
	fr := newFrames(1200 * time.Millisecond)
	silence := 300 * time.Millisecond
	d := vad.New(vad.Config{Silence: silence}, 16000)
	pcm := make([]int16, 0, 320)
	var starts, ends int
	var endAt time.Duration
	feed := func(b []byte) {
		var err error
		pcm, err = audio.DecodePCM16(pcm[:0], b)
		if err != nil {
			t.Fatal(err)
		}
		if lvl := audio.DBFS(audio.RMS(pcm)); len(b) > 0 && b[0]|b[1] != 0 && lvl < -40 {
			t.Fatalf("voiced frame at %.1f dBFS is too quiet", lvl)
		}
		switch d.Process(pcm) {
		case vad.SpeechStart:
			starts++
		case vad.SpeechEnd:
			ends++
			endAt = d.Position()
		}
	}
	for range 10 {
		feed(fr.silence)
	}
	for _, f := range fr.voice {
		feed(f)
	}
	for range 30 {
		feed(fr.silence)
	}
	if starts != 1 || ends != 1 {
		t.Fatalf("VAD saw %d starts and %d ends, want 1 and 1", starts, ends)
	}
	// The VAD decides on whole frames and may count a window of filter
	// ring-down as voiced, so allow one frame of slack.
	lastVoice := 200*time.Millisecond + 1200*time.Millisecond
	if got := endAt - lastVoice; got < silence || got > silence+frameDur {
		t.Fatalf("endpoint %v after the last voiced frame, want %v..%v", got, silence, silence+frameDur)
	}
}
