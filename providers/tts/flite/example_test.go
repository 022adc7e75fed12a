//go:build cgo && linux

package flite_test

import (
	"context"
	"fmt"
	"log"

	"github.com/voicegate/voicegate/providers/tts/flite"
)

func Example() {
	s, err := flite.New(flite.Config{Rate: 1.1})
	if err != nil {
		log.Fatal(err)
	}
	var samples int
	err = s.Synthesize(context.Background(), "Hello there.", func(pcm []int16) error {
		samples += len(pcm) // pcm is reused after emit returns: copy to keep
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Format(), samples > 0)
	// Output: 16000Hz/mono true
}
