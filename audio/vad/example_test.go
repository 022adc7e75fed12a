package vad_test

import (
	"fmt"
	"math"

	"github.com/voicegate/voicegate/audio/vad"
)

// The endpointing loop of a session: frames go to the recogniser only
// inside an utterance, and the prefix the detector kept goes first.
func ExampleDetector() {
	const rate = 16000
	d := vad.New(vad.Config{}, rate)

	frame := make([]int16, rate/50) // 20 ms
	var utterance, prefix []int16
	for i := range 150 { // 3 s: a tone from 1 s to 2 s stands in for a voice
		for j := range frame {
			frame[j] = 0
			if i >= 50 && i < 100 {
				frame[j] = int16(8000 * math.Sin(2*math.Pi*200*float64(i*len(frame)+j)/rate))
			}
		}
		switch d.Process(frame) {
		case vad.SpeechStart:
			prefix = d.Prefix(prefix[:0]) // the detector keeps no reference to it
			utterance = append(utterance[:0], prefix...)
			fmt.Printf("start at %v, reported at %v with %d ms of prefix\n", d.StartPosition(), d.Position(), len(prefix)/(rate/1000))
		case vad.SpeechEnd:
			fmt.Printf("end at %v, reported at %v\n", d.Position()-d.TrailingSilence(), d.Position())
		default:
			if d.Speaking() {
				utterance = append(utterance, frame...) // frame is reused: copy it
			}
		}
	}
	// Output:
	// start at 1s, reported at 1.1s with 400 ms of prefix
	// end at 2.01s, reported at 2.52s
}
