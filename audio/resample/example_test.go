package resample_test

import (
	"fmt"

	"github.com/voicegate/voicegate/audio/resample"
)

// Converting a browser's 48 kHz microphone to the pipeline's 16 kHz, frame
// by frame, reusing the output buffer so the steady state allocates nothing.
func ExampleResampler() {
	r, err := resample.New(48000, 16000)
	if err != nil {
		panic(err)
	}
	in := make([]int16, 960) // 20 ms at 48 kHz
	var out []int16
	total := 0
	for range 50 {
		out = r.Process(out[:0], in)
		total += len(out)
	}
	out = r.Flush(out[:0])
	total += len(out)
	fmt.Println(total, "samples at 16 kHz for 1 s;", r.Delay(), "input samples of delay")
	// Output: 16000 samples at 16 kHz for 1 s; 102 input samples of delay
}
