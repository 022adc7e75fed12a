//go:build cgo && linux

package espeakng_test

import (
	"context"
	"fmt"
	"log"

	"github.com/voicegate/voicegate/providers/tts/espeakng"
)

func Example() {
	s, err := espeakng.New(espeakng.Config{Voice: "de", Rate: 160})
	if err != nil {
		log.Fatal(err)
	}
	var samples int
	err = s.Synthesize(context.Background(), "Guten Morgen.", func(pcm []int16) error {
		samples += len(pcm) // pcm is reused after emit returns: copy to keep
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Format(), samples > 0)
	// Output: 22050Hz/mono true
}
