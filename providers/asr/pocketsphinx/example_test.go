//go:build cgo && linux

package pocketsphinx_test

import (
	"context"
	"fmt"
	"log"

	"github.com/voicegate/voicegate/providers/asr/pocketsphinx"
)

// Recognise one utterance, feeding 20 ms chunks as they arrive.
func Example() {
	r, err := pocketsphinx.New(pocketsphinx.Config{PoolSize: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	ctx := context.Background()
	u, err := r.Start(ctx) // blocks while both decoders are in use
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close() // returns the decoder to the pool

	var chunks [][]int16 // 16 kHz mono, e.g. 320 samples each
	last := ""
	for _, c := range chunks {
		partial, err := u.Write(c)
		if err != nil {
			log.Fatal(err)
		}
		if partial != last {
			fmt.Println("partial:", partial)
			last = partial
		}
	}
	final, err := u.Finish(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("final:", final)
}
