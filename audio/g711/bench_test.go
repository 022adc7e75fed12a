package g711

import "testing"

// The benchmarks code one 20 ms frame at 8 kHz (160 samples) into a reused
// buffer, as an adapter does per media message.

func BenchmarkEncodeMuLaw(b *testing.B) { benchEncode(b, EncodeMuLaw) }
func BenchmarkDecodeMuLaw(b *testing.B) { benchDecode(b, EncodeMuLaw, DecodeMuLaw) }
func BenchmarkEncodeALaw(b *testing.B)  { benchEncode(b, EncodeALaw) }
func BenchmarkDecodeALaw(b *testing.B)  { benchDecode(b, EncodeALaw, DecodeALaw) }

func benchEncode(b *testing.B, encode func([]byte, []int16) []byte) {
	pcm := frame()
	dst := make([]byte, 0, len(pcm))
	b.ReportAllocs()
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		dst = encode(dst[:0], pcm)
	}
}

func benchDecode(b *testing.B, encode func([]byte, []int16) []byte, decode func([]int16, []byte) []int16) {
	codes := encode(nil, frame())
	dst := make([]int16, 0, len(codes))
	b.ReportAllocs()
	b.SetBytes(int64(len(codes)))
	for b.Loop() {
		dst = decode(dst[:0], codes)
	}
}
