package audio

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrOddLength reports PCM16 bytes that do not split into whole samples.
var ErrOddLength = errors.New("audio: PCM16 data has an odd number of bytes")

// DecodePCM16 appends the samples in little-endian PCM16 b to dst.
// It returns ErrOddLength, and dst unchanged, when len(b) is odd.
func DecodePCM16(dst []int16, b []byte) ([]int16, error) {
	if len(b)%2 != 0 {
		return dst, ErrOddLength
	}
	n := len(b) / 2
	dst = grow(dst, n)
	out := dst[len(dst)-n:]
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return dst, nil
}

// EncodePCM16 appends samples to dst as little-endian PCM16 bytes.
func EncodePCM16(dst []byte, samples []int16) []byte {
	start := len(dst)
	need := start + 2*len(samples)
	if cap(dst) < need {
		nd := make([]byte, start, need)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:need]
	for i, s := range samples {
		binary.LittleEndian.PutUint16(dst[start+2*i:], uint16(s))
	}
	return dst
}

func grow(dst []int16, n int) []int16 {
	need := len(dst) + n
	if cap(dst) < need {
		nd := make([]int16, len(dst), need)
		copy(nd, dst)
		dst = nd
	}
	return dst[:need]
}

// RMS returns the root mean square of samples, in sample units (0..32768).
func RMS(samples []int16) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, s := range samples {
		f := float64(s)
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(samples)))
}

// DBFS converts an RMS level to decibels relative to full scale; silence is -96.
func DBFS(rms float64) float64 {
	if rms < 1 {
		return -96
	}
	return 20 * math.Log10(rms/32768)
}

// Clamp16 rounds f to the nearest int16, saturating at the limits.
func Clamp16(f float64) int16 {
	switch {
	case f >= math.MaxInt16:
		return math.MaxInt16
	case f <= math.MinInt16:
		return math.MinInt16
	case f >= 0:
		return int16(f + 0.5)
	default:
		return int16(f - 0.5)
	}
}
