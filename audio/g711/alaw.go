package g711

import "math/bits"

// EncodeALaw appends the A-law code of each sample in pcm to dst and returns
// the extended slice. It allocates only when dst lacks the capacity for
// len(pcm) more bytes, and does not retain pcm.
func EncodeALaw(dst []byte, pcm []int16) []byte {
	dst, out := extend(dst, len(pcm))
	for i, x := range pcm {
		out[i] = aLaw(x)
	}
	return dst
}

// DecodeALaw appends the linear sample of each A-law code in b to dst and
// returns the extended slice. Every byte is a valid code, so it cannot fail.
// It allocates only when dst lacks the capacity for len(b) more samples, and
// does not retain b.
func DecodeALaw(dst []int16, b []byte) []int16 {
	dst, out := extend(dst, len(b))
	for i, c := range b {
		out[i] = aLawToLinear[c]
	}
	return dst
}

// aLaw encodes one sample. The code is sign (1 for positive), 3-bit segment
// and 4-bit step, with the even bits toggled (0x55). A negative sample's
// magnitude is its one's complement, so that -1 lies next to 0 and both
// signs quantise alike; the magnitude then fits in 15 bits and needs no
// clipping. Segments 0 and 1 share a step of 16; each later one doubles it.
func aLaw(x int16) byte {
	m, mask := int(x), byte(0xD5)
	if m < 0 {
		m, mask = ^m, 0x55
	}
	seg := bits.Len(uint(m) >> 8)
	shift := max(seg, 1) + 3
	return (byte(seg<<4) | byte(m>>shift)&0x0F) ^ mask
}

// aLawToLinear decodes an A-law code: 0xD5 and 0x55 are ±8, the values
// nearest zero; 0xAA and 0x2A the extremes ±32256.
var aLawToLinear = [256]int16{
	-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, // 0x00
	-7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784, // 0x08
	-2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, // 0x10
	-3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392, // 0x18
	-22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944, // 0x20
	-30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136, // 0x28
	-11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472, // 0x30
	-15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568, // 0x38
	-344, -328, -376, -360, -280, -264, -312, -296, // 0x40
	-472, -456, -504, -488, -408, -392, -440, -424, // 0x48
	-88, -72, -120, -104, -24, -8, -56, -40, // 0x50
	-216, -200, -248, -232, -152, -136, -184, -168, // 0x58
	-1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, // 0x60
	-1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696, // 0x68
	-688, -656, -752, -720, -560, -528, -624, -592, // 0x70
	-944, -912, -1008, -976, -816, -784, -880, -848, // 0x78
	5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736, // 0x80
	7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784, // 0x88
	2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368, // 0x90
	3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392, // 0x98
	22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944, // 0xA0
	30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136, // 0xA8
	11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472, // 0xB0
	15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568, // 0xB8
	344, 328, 376, 360, 280, 264, 312, 296, // 0xC0
	472, 456, 504, 488, 408, 392, 440, 424, // 0xC8
	88, 72, 120, 104, 24, 8, 56, 40, // 0xD0
	216, 200, 248, 232, 152, 136, 184, 168, // 0xD8
	1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, // 0xE0
	1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696, // 0xE8
	688, 656, 752, 720, 560, 528, 624, 592, // 0xF0
	944, 912, 1008, 976, 816, 784, 880, 848, // 0xF8
}
