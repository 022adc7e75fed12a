package g711

import (
	"slices"

	"github.com/voicegate/voicegate/audio"
)

// SampleRate is G.711's sample rate in Hz; the standard allows no other.
const SampleRate = 8000

// Format is the linear side of both laws: 8 kHz mono.
var Format = audio.Format{SampleRate: SampleRate, Channels: 1}

// extend returns s grown by n elements and the n-element tail to fill,
// reusing s's backing array when its capacity allows.
func extend[S ~[]E, E any](s S, n int) (S, S) {
	start := len(s)
	s = slices.Grow(s, n)[:start+n]
	return s, s[start:]
}
