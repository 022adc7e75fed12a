//go:build cgo && linux

package flite_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/voicegate/voicegate/providers/asr/pocketsphinx"
	"github.com/voicegate/voicegate/providers/tts/flite"
)

// TestRoundTrip feeds this package's streamed audio to PocketSphinx, chunk by
// chunk as it is emitted. A test-only import: the provider packages do not
// depend on each other.
func TestRoundTrip(t *testing.T) {
	if _, err := os.Stat(pocketsphinx.DefaultLM); err != nil {
		t.Skipf("pocketsphinx-en-us not installed: %v", err)
	}
	r, err := pocketsphinx.New(pocketsphinx.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := newSynth(t, flite.Config{})
	ctx := context.Background()
	for _, want := range []string{
		"please turn on the kitchen lights",
		"what time is it in london",
		"set a timer for ten minutes",
	} {
		u, err := r.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Synthesize(ctx, want, func(pcm []int16) error {
			_, err := u.Write(pcm)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := u.Finish(ctx)
		u.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%q → %q", want, got)
		if w, g := strings.Fields(want), strings.Fields(got); len(g) != len(w) || countSame(w, g) < len(w)-1 {
			t.Errorf("recognised %q, want %q", got, want)
		}
	}
}

func countSame(a, b []string) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			n++
		}
	}
	return n
}
