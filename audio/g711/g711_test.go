package g711

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// law bundles one companding law's functions so that each property below is
// stated once and checked for both.
type law struct {
	name   string
	encode func(dst []byte, pcm []int16) []byte
	decode func(dst []int16, b []byte) []int16
	ref    func(x int) byte  // straightforward encoder written from the reference algorithm
	spec   func(c byte) int  // decoder written from G.711's tables
	maxErr func(seg int) int // largest |decode(encode(x)) - x| in a segment
	clip   int               // magnitudes above this all take the extreme code
	toggle byte              // the bits a code is stored with inverted
}

var laws = []law{
	{
		name: "mulaw", encode: EncodeMuLaw, decode: DecodeMuLaw, ref: refMuLaw, spec: specMuLaw,
		maxErr: func(seg int) int { return 4 << seg },
		clip:   muLawClip, toggle: 0xFF,
	},
	{
		name: "alaw", encode: EncodeALaw, decode: DecodeALaw, ref: refALaw, spec: specALaw,
		maxErr: func(seg int) int { return 4 << max(seg, 1) },
		clip:   math.MaxInt16 + 1, toggle: 0x55,
	},
}

func (l law) enc(x int) byte { return l.encode(nil, []int16{int16(x)})[0] }
func (l law) dec(c byte) int { return int(l.decode(nil, []byte{c})[0]) }
func (l law) trip(x int) int { return l.dec(l.enc(x)) }

// segment returns the segment a code word's bits name.
func (l law) segment(c byte) int { return int((c^l.toggle)>>4) & 7 }

// segEnds are the largest biased (μ-law) or plain (A-law) magnitudes of
// each segment in 16-bit units.
var segEnds = [8]int{0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF}

// segment finds the segment of magnitude m by walking segEnds; 8 is
// beyond the last.
func segment(m int) int {
	seg := 0
	for seg < len(segEnds) && m > segEnds[seg] {
		seg++
	}
	return seg
}

// refMuLaw is linear2ulaw of the Sun/CCITT g711.c: take sign and magnitude,
// clip the magnitude at 32635, add the bias 0x84, search the segment, keep
// the four bits below the segment's top bit, invert everything.
func refMuLaw(x int) byte {
	mask := 0xFF
	if x < 0 {
		x, mask = -x, 0x7F
	}
	if x > 32635 {
		x = 32635
	}
	x += 0x84
	seg := segment(x)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	return byte((seg<<4 | (x>>(seg+3))&0x0F) ^ mask)
}

// refALaw is linear2alaw of g711.c in the form whose negative magnitudes
// are one's complements: sign and magnitude, search the segment, keep four
// bits (segments 0 and 1 both step by 16), toggle the even bits.
func refALaw(x int) byte {
	mask := 0xD5
	if x < 0 {
		x, mask = -x-1, 0x55
	}
	seg := segment(x)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	q := x >> (seg + 3)
	if seg < 2 {
		q = x >> 4
	}
	return byte((seg<<4 | q&0x0F) ^ mask)
}

// g191ALaw is the ITU-T G.191 alaw_compress, a different way to the same
// code: shift the 12 significant bits down, then normalise by a loop.
func g191ALaw(x int) byte {
	ix := x >> 4
	if x < 0 {
		ix = (^x) >> 4
	}
	if ix > 15 {
		exp := 1
		for ix > 16+15 {
			ix >>= 1
			exp++
		}
		ix -= 16
		ix += exp << 4
	}
	if x >= 0 {
		ix |= 0x80
	}
	return byte(ix ^ 0x55)
}

// specMuLaw decodes by G.711 Table 2a: segment s, step q reconstructs to
// (2q+33)·2^s − 33 in 14-bit units, four 16-bit units each.
func specMuLaw(c byte) int {
	c = ^c
	s, q := int(c>>4&7), int(c&0x0F)
	v := 4 * ((2*q+33)<<s - 33)
	if c&0x80 != 0 {
		return -v
	}
	return v
}

// specALaw decodes by G.711 Table 1a: segment 0 reconstructs to 2q+1,
// segment s ≥ 1 to (2q+33)·2^(s−1), in 13-bit units, eight 16-bit units each.
func specALaw(c byte) int {
	c ^= 0x55
	s, q := int(c>>4&7), int(c&0x0F)
	v := 2*q + 1
	if s > 0 {
		v = (2*q + 33) << (s - 1)
	}
	v *= 8
	if c&0x80 == 0 {
		return -v
	}
	return v
}

func TestKnownValues(t *testing.T) {
	tests := []struct {
		law    string
		linear int
		code   byte
		dir    string // "both", "decode" (code → linear only) or "encode" (linear → code only)
	}{
		{"mulaw", 0, 0xFF, "both"},
		{"mulaw", 0, 0x7F, "decode"}, // negative zero: 0 encodes as 0xFF
		{"mulaw", 32124, 0x80, "both"},
		{"mulaw", -32124, 0x00, "both"},
		{"mulaw", 8, 0xFE, "both"},
		{"mulaw", -8, 0x7E, "both"},
		{"mulaw", 132, 0xEF, "both"}, // first value of segment 1
		{"mulaw", -1, 0x7F, "encode"},
		{"mulaw", 3, 0xFF, "encode"},
		{"mulaw", 4, 0xFE, "encode"},
		{"mulaw", -4, 0x7E, "encode"},
		{"mulaw", 32767, 0x80, "encode"},
		{"mulaw", -32768, 0x00, "encode"},
		{"alaw", 8, 0xD5, "both"},
		{"alaw", -8, 0x55, "both"},
		{"alaw", 32256, 0xAA, "both"},
		{"alaw", -32256, 0x2A, "both"},
		{"alaw", 24, 0xD4, "both"},
		{"alaw", -24, 0x54, "both"},
		{"alaw", 264, 0xC5, "both"}, // first value of segment 1
		{"alaw", 0, 0xD5, "encode"},
		{"alaw", 15, 0xD5, "encode"},
		{"alaw", 16, 0xD4, "encode"},
		{"alaw", -1, 0x55, "encode"}, // one's complement: -1 sits next to 0, not at -248
		{"alaw", -16, 0x55, "encode"},
		{"alaw", -17, 0x54, "encode"},
		{"alaw", 32767, 0xAA, "encode"},
		{"alaw", -32768, 0x2A, "encode"},
	}
	byName := map[string]law{}
	for _, l := range laws {
		byName[l.name] = l
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d/%#02x", tt.law, tt.linear, tt.code), func(t *testing.T) {
			l := byName[tt.law]
			if tt.dir != "encode" {
				if got := l.dec(tt.code); got != tt.linear {
					t.Errorf("decode(%#02x) = %d, want %d", tt.code, got, tt.linear)
				}
			}
			if tt.dir != "decode" {
				if got := l.enc(tt.linear); got != tt.code {
					t.Errorf("encode(%d) = %#02x, want %#02x", tt.linear, got, tt.code)
				}
			}
		})
	}
}

// TestDecodeTable checks all 256 entries of each table against G.711's
// reconstruction formula.
func TestDecodeTable(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			for c := range 256 {
				if got, want := l.dec(byte(c)), l.spec(byte(c)); got != want {
					t.Errorf("decode(%#02x) = %d, want %d", c, got, want)
				}
			}
		})
	}
}

// TestEncodeMatchesReference checks every int16 against the reference
// encoder (and, for A-law, the G.191 one too).
func TestEncodeMatchesReference(t *testing.T) {
	pcm := make([]int16, 0, 1<<16)
	for x := math.MinInt16; x <= math.MaxInt16; x++ {
		pcm = append(pcm, int16(x))
	}
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			got := l.encode(nil, pcm)
			bad := 0
			for i, x := range pcm {
				if want := l.ref(int(x)); got[i] != want {
					if bad++; bad <= 10 {
						t.Errorf("encode(%d) = %#02x, reference %#02x", x, got[i], want)
					}
				}
			}
			if bad > 10 {
				t.Errorf("... %d inputs differ in all", bad)
			}
		})
	}
	t.Run("alaw/g191", func(t *testing.T) {
		for x := math.MinInt16; x <= math.MaxInt16; x++ {
			if got, want := refALaw(x), g191ALaw(x); got != want {
				t.Fatalf("reference encode(%d) = %#02x, G.191 %#02x", x, got, want)
			}
		}
	})
}

// TestCodeWordsRoundTrip: a decoded code word encodes back to itself, so a
// signal that has been through G.711 once passes through again unchanged.
func TestCodeWordsRoundTrip(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			for c := range 256 {
				v := l.dec(byte(c))
				back := l.enc(v)
				if got := l.dec(back); got != v {
					t.Errorf("decode(encode(decode(%#02x))) = %d, want %d", c, got, v)
				}
				// μ-law's negative zero 0x7F is the one code that does not
				// come back: zero encodes as 0xFF.
				if back != byte(c) && (l.name != "mulaw" || c != 0x7F) {
					t.Errorf("encode(decode(%#02x)) = %#02x", c, back)
				}
			}
		})
	}
}

// TestEncodeMonotonic: a larger input never decodes to a smaller value.
func TestEncodeMonotonic(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			prev := l.trip(math.MinInt16)
			for x := math.MinInt16 + 1; x <= math.MaxInt16; x++ {
				v := l.trip(x)
				if v < prev {
					t.Fatalf("encode(%d) decodes to %d, below encode(%d)'s %d", x, v, x-1, prev)
				}
				prev = v
			}
		})
	}
}

// TestQuantisationError measures, for every int16, how far the decoded
// value lies from the input, and checks each segment's worst case is
// exactly half its step. μ-law inputs beyond its clip level saturate at
// ±32124 instead.
func TestQuantisationError(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			top, bottom := l.trip(math.MaxInt16), l.trip(math.MinInt16)
			var worst [8]int
			for x := math.MinInt16; x <= math.MaxInt16; x++ {
				c := l.enc(x)
				v := l.dec(c)
				if abs(x) > l.clip {
					if (x > 0 && v != top) || (x < 0 && v != bottom) {
						t.Fatalf("encode(%d) decodes to %d, want saturation at %d or %d", x, v, top, bottom)
					}
					continue
				}
				seg := l.segment(c)
				worst[seg] = max(worst[seg], abs(v-x))
			}
			for seg, got := range worst {
				if want := l.maxErr(seg); got != want {
					t.Errorf("segment %d: worst error %d, want %d", seg, got, want)
				}
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestAppend checks the buffer contract: the result extends dst, keeps what
// it held, and reuses its array when there is room.
func TestAppend(t *testing.T) {
	pcm := []int16{0, 1000, -1000, math.MaxInt16, math.MinInt16}
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			want := make([]byte, len(pcm))
			for i, x := range pcm {
				want[i] = l.ref(int(x))
			}

			if got := l.encode(nil, pcm); !slices.Equal(got, want) {
				t.Fatalf("encode(nil) = %x, want %x", got, want)
			}
			if got := l.encode(nil, nil); len(got) != 0 {
				t.Errorf("encode(nil, nil) = %x, want empty", got)
			}

			prefix := []byte{1, 2, 3}
			got := l.encode(slices.Clone(prefix), pcm)
			if !slices.Equal(got[:3], prefix) || !slices.Equal(got[3:], want) {
				t.Errorf("encode after a prefix = %x, want %x then %x", got, prefix, want)
			}

			buf := make([]byte, 2, 64)
			got = l.encode(buf, pcm)
			if &got[0] != &buf[0] {
				t.Error("encode reallocated a dst with room to spare")
			}

			samples := l.decode([]int16{7}, want)
			if samples[0] != 7 || len(samples) != 1+len(want) {
				t.Fatalf("decode after a prefix = %v", samples)
			}
			for i, c := range want {
				if samples[1+i] != int16(l.spec(c)) {
					t.Errorf("decode(%#02x) = %d, want %d", c, samples[1+i], l.spec(c))
				}
			}
			sbuf := make([]int16, 0, 64)
			if got := l.decode(sbuf, want); &got[0] != &sbuf[:1][0] {
				t.Error("decode reallocated a dst with room to spare")
			}
		})
	}
}

// TestFrameAllocatesNothing: a 20 ms frame each way, into a reused buffer.
func TestFrameAllocatesNothing(t *testing.T) {
	pcm := frame()
	codes := make([]byte, 0, len(pcm))
	samples := make([]int16, 0, len(pcm))
	for _, l := range laws {
		allocs := testing.AllocsPerRun(100, func() {
			codes = l.encode(codes[:0], pcm)
			samples = l.decode(samples[:0], codes)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame, want 0", l.name, allocs)
		}
	}
}

// frame returns 20 ms at 8 kHz of a tone swept across the range, loud enough
// to reach every segment.
func frame() []int16 {
	pcm := make([]int16, SampleRate/50)
	for i := range pcm {
		pcm[i] = int16(30000 * math.Sin(float64(i*i)/200))
	}
	return pcm
}
