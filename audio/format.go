package audio

import (
	"fmt"
	"time"
)

// Format describes signed 16-bit little-endian PCM. Channels other than 1 are
// interleaved. The gateway's pipeline works on mono throughout.
type Format struct {
	SampleRate int // samples per second per channel, e.g. 16000
	Channels   int // 1 for mono
}

// Common formats.
var (
	// Mono16k is the pipeline's internal format: what speech recognisers want.
	Mono16k = Format{SampleRate: 16000, Channels: 1}
	// Mono24k is the format of OpenAI-compatible speech synthesis (response_format=pcm).
	Mono24k = Format{SampleRate: 24000, Channels: 1}
)

// SupportedRates lists the sample rates the gateway accepts and produces.
var SupportedRates = []int{8000, 16000, 22050, 24000, 44100, 48000}

// IsSupportedRate reports whether r is one of SupportedRates.
func IsSupportedRate(r int) bool {
	for _, s := range SupportedRates {
		if s == r {
			return true
		}
	}
	return false
}

// Validate reports whether f describes audio the gateway can carry.
func (f Format) Validate() error {
	if !IsSupportedRate(f.SampleRate) {
		return fmt.Errorf("audio: unsupported sample rate %d Hz (supported: %v)", f.SampleRate, SupportedRates)
	}
	if f.Channels != 1 {
		return fmt.Errorf("audio: %d channels requested, only mono (1) is supported", f.Channels)
	}
	return nil
}

// String returns a form such as "16000Hz/mono".
func (f Format) String() string {
	if f.Channels == 1 {
		return fmt.Sprintf("%dHz/mono", f.SampleRate)
	}
	return fmt.Sprintf("%dHz/%dch", f.SampleRate, f.Channels)
}

// Samples returns how many samples (all channels together) last d.
func (f Format) Samples(d time.Duration) int {
	return int(int64(f.SampleRate) * int64(f.Channels) * int64(d) / int64(time.Second))
}

// Bytes returns how many PCM16 bytes last d.
func (f Format) Bytes(d time.Duration) int { return 2 * f.Samples(d) }

// Duration returns how long n samples (all channels together) last.
func (f Format) Duration(n int) time.Duration {
	if f.SampleRate <= 0 || f.Channels <= 0 {
		return 0
	}
	return time.Duration(int64(n) * int64(time.Second) / int64(f.SampleRate*f.Channels))
}
