package g711

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/voicegate/voicegate/audio"
)

// FuzzCodec feeds arbitrary bytes to both laws, once as code words and once
// as little-endian PCM16: decoding must agree with G.711's formula and its
// result survive encode → decode, encoding must agree with the reference
// encoder, and what dst held before must be left alone.
func FuzzCodec(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xFF, 0x7F, 0x80, 0x00})
	f.Add([]byte{0xD5, 0x55, 0xAA, 0x2A, 0x01})
	f.Add(binary.LittleEndian.AppendUint16(nil, 0x8000))
	f.Add(audio.EncodePCM16(nil, frame()))
	f.Fuzz(func(t *testing.T, in []byte) {
		pcm := make([]int16, len(in)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(in[2*i:]))
		}
		prefix := []int16{-1, 1}
		for _, l := range laws {
			samples := l.decode(slices.Clone(prefix), in)
			if len(samples) != len(prefix)+len(in) || !slices.Equal(samples[:len(prefix)], prefix) {
				t.Fatalf("%s: decode of %d bytes after %v gave %d samples starting %v", l.name, len(in), prefix, len(samples), samples[:min(len(samples), len(prefix))])
			}
			samples = samples[len(prefix):]
			for i, c := range in {
				if int(samples[i]) != l.spec(c) {
					t.Fatalf("%s: decode(%#02x) = %d, want %d", l.name, c, samples[i], l.spec(c))
				}
			}
			if again := l.decode(nil, l.encode(nil, samples)); !slices.Equal(again, samples) {
				t.Fatalf("%s: decode(encode(%v)) = %v", l.name, samples, again)
			}

			codes := l.encode([]byte{0xEE}, pcm)
			if len(codes) != 1+len(pcm) || codes[0] != 0xEE {
				t.Fatalf("%s: encode of %d samples after one byte gave %x", l.name, len(pcm), codes)
			}
			for i, x := range pcm {
				if want := l.ref(int(x)); codes[1+i] != want {
					t.Fatalf("%s: encode(%d) = %#02x, reference %#02x", l.name, x, codes[1+i], want)
				}
			}
		}
	})
}
