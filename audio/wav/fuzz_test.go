package wav

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/voicegate/voicegate/audio"
)

// FuzzDecode feeds Decode arbitrary bytes: it must not panic, must not
// allocate for sizes the input does not back, and what it accepts must
// survive Encode → Decode unchanged.
func FuzzDecode(f *testing.F) {
	le := binary.LittleEndian
	seeds := [][]byte{
		riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", pcm16(1, -2, 3, math.MaxInt16)}),
		riff(fmtChunk(tagPCM, 2, 48000, 16), chunk{"data", pcm16(1, 2, 3, 4)}),
		riff(fmtChunk(tagPCM, 1, 8000, 8), chunk{"data", []byte{0, 128, 255}}),
		riff(fmtChunk(tagPCM, 1, 48000, 24), chunk{"data", []byte{1, 2, 3, 4, 5, 6}}),
		riff(fmtChunk(tagPCM, 2, 44100, 32), chunk{"data", make([]byte, 16)}),
		riff(fmtChunk(tagFloat, 1, 24000, 32), chunk{"data", le.AppendUint32(nil, math.Float32bits(0.5))}),
		riff(fmtChunk(tagFloat, 1, 24000, 64), chunk{"data", le.AppendUint64(nil, math.Float64bits(-0.5))}),
		riff(extensible(tagPCM, 2, 48000, 16), chunk{"data", pcm16(5, 6)}),
		riff(chunk{"LIST", []byte("INFOabc")}, fmtChunk(tagPCM, 1, 16000, 16), chunk{"fact", []byte{1, 0, 0, 0}}, chunk{"data", pcm16(9)}),
		riff(fmtChunk(tagMuLaw, 1, 8000, 8), chunk{"data", []byte{1}}),
		append(Header(audio.Mono16k, -1), pcm16(1, 2, 3)...),
		riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", pcm16(1, 2, 3)})[:49],
		[]byte("RIFF\x00\x00\x00\x00WAVE"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		format, samples, err := Decode(bytes.NewReader(in))
		// Every sample comes from at least one input byte.
		if len(samples) > len(in) {
			t.Fatalf("%d samples from %d bytes", len(samples), len(in))
		}
		if err != nil {
			return
		}
		if format.Channels < 1 || format.Channels > MaxChannels || format.SampleRate <= 0 {
			t.Fatalf("accepted format %v", format)
		}
		if len(samples)%format.Channels != 0 {
			t.Fatalf("%d samples are not whole frames of %d channels", len(samples), format.Channels)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, format, samples); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		format2, samples2, err := Decode(&buf)
		if err != nil {
			t.Fatalf("decoding what Encode wrote: %v", err)
		}
		if format2 != format || !slices.Equal(samples, samples2) {
			t.Fatalf("round trip changed %v %d samples into %v %d", format, len(samples), format2, len(samples2))
		}
	})
}
