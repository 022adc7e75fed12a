package wav_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// Recording a stream to a file: the header is written first and its sizes
// fixed on Close.
func ExampleWriter() {
	path := filepath.Join(os.TempDir(), "voicegate-example.wav")
	defer os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()

	w, err := wav.NewWriter(f, audio.Mono16k)
	if err != nil {
		panic(err)
	}
	frame := make([]int16, 320) // 20 ms
	for range 50 {
		if err := w.WriteSamples(frame); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil { // fixes the sizes; f stays open
		panic(err)
	}

	if _, err := f.Seek(0, 0); err != nil {
		panic(err)
	}
	format, samples, err := wav.Decode(f)
	fmt.Println(format, len(samples), err)
	// Output: 16000Hz/mono 16000 <nil>
}
