//go:build cgo && linux

package piper_test

import (
	"context"
	"fmt"
	"log"

	"github.com/voicegate/voicegate/providers/tts/piper"
)

func Example() {
	// The default voice, as scripts/models.sh prepares it.
	s, err := piper.New(piper.Config{Engines: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var sentences int
	err = s.Synthesize(context.Background(), "Good morning. How can I help?", func(pcm []int16) error {
		sentences++ // one call per sentence; pcm is reused after emit returns
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Format(), sentences)
	// Output: 22050Hz/mono 2
}
