// Package wav reads and writes RIFF WAVE files of PCM audio.
//
// Decode reads a whole file into 16-bit samples: it accepts integer PCM of 8,
// 16, 24 and 32 bits and IEEE float of 32 and 64 bits (plain or
// WAVE_FORMAT_EXTENSIBLE), any channel count up to MaxChannels, and skips
// chunks it does not need (LIST, fact, cue, odd sizes padded to even). Other
// encodings (A-law, µ-law, ADPCM…) are refused with ErrFormat.
//
// Encode writes a whole file; Header and Writer serve streams: Header builds
// the 44-byte header for a known length (or an unknown one, for pipes), and
// Writer appends samples to a seekable file and fixes the sizes on Close.
// Everything written is 16-bit PCM.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/voicegate/voicegate/audio"
)

// MaxChannels is the most channels Decode accepts.
const MaxChannels = 8

// HeaderSize is the length of the header that Header, Encode and Writer
// write.
const HeaderSize = 44

// MaxDataBytes is the largest data chunk a RIFF header can describe.
const MaxDataBytes = math.MaxUint32 - (HeaderSize - 8)

// unknownSize marks a RIFF or data size that was not known when the header
// was written (a stream to a pipe, or a recording cut short before its
// sizes were fixed). Decode then reads the data to the end of the input.
const unknownSize = math.MaxUint32

// Errors Decode returns, wrapped with detail; test with errors.Is.
var (
	// ErrNotWAV reports input that is not a RIFF WAVE file.
	ErrNotWAV = errors.New("wav: not a RIFF WAVE file")
	// ErrFormat reports a WAVE file whose encoding or layout Decode does
	// not support, or whose fmt chunk is inconsistent.
	ErrFormat = errors.New("wav: unsupported format")
	// ErrTruncated reports input that ended before a chunk did.
	ErrTruncated = errors.New("wav: truncated")
)

// Format tags from the fmt chunk.
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagALaw       = 0x0006
	tagMuLaw      = 0x0007
	tagExtensible = 0xFFFE
)

// encoding is what the fmt chunk says about the samples.
type encoding struct {
	tag      uint16 // tagPCM or tagFloat once resolved
	channels int
	rate     int
	width    int // bytes per sample of one channel
}

// Decode reads a WAVE file from r and returns its format and samples as
// 16-bit PCM, interleaved when Format.Channels > 1 (see ToMono). Wider
// samples are rounded to 16 bits; float samples are scaled by 32768 and
// saturated. The returned slice is the caller's.
//
// Decode reads r only up to the end of the data chunk. It does not trust
// the sizes in the header: memory grows with the data actually read. When
// the input ends inside the data chunk, Decode returns the whole frames it
// read together with an error wrapping ErrTruncated (a partial frame at the
// end is dropped); a data size of
// 0xFFFFFFFF (length unknown when the header was written) means "until the
// end of the input" and is not an error.
func Decode(r io.Reader) (audio.Format, []int16, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return audio.Format{}, nil, fmt.Errorf("%w: %d-byte input", ErrNotWAV, len(hdr))
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return audio.Format{}, nil, fmt.Errorf("%w: starts with %q", ErrNotWAV, hdr[0:4])
	}
	var enc *encoding
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if enc == nil {
				return audio.Format{}, nil, fmt.Errorf("%w: no fmt chunk", ErrFormat)
			}
			return enc.format(), nil, fmt.Errorf("%w: no data chunk", ErrTruncated)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if enc != nil {
				return audio.Format{}, nil, fmt.Errorf("%w: two fmt chunks", ErrFormat)
			}
			e, err := readFmt(r, size)
			if err != nil {
				return audio.Format{}, nil, err
			}
			enc = &e
		case "data":
			if enc == nil {
				return audio.Format{}, nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrFormat)
			}
			samples, err := readData(r, *enc, size)
			return enc.format(), samples, err
		default:
			// Skip it, and the pad byte that follows a chunk of odd size.
			skip := int64(size) + int64(size&1)
			if n, err := io.CopyN(io.Discard, r, skip); err != nil {
				return audio.Format{}, nil, fmt.Errorf("%w: %q chunk declares %d bytes, %d present", ErrTruncated, id, size, n)
			}
		}
	}
}

func (e encoding) format() audio.Format {
	return audio.Format{SampleRate: e.rate, Channels: e.channels}
}

// readFmt reads and checks a fmt chunk of size bytes.
func readFmt(r io.Reader, size uint32) (encoding, error) {
	// 16 bytes for PCM, 18 with cbSize, 40 for WAVE_FORMAT_EXTENSIBLE;
	// anything much larger is not a fmt chunk we could use.
	if size < 16 || size > 1024 {
		return encoding{}, fmt.Errorf("%w: fmt chunk of %d bytes", ErrFormat, size)
	}
	var b [1024 + 1]byte
	body := b[:size+size&1]
	if _, err := io.ReadFull(r, body); err != nil {
		return encoding{}, fmt.Errorf("%w: fmt chunk", ErrTruncated)
	}
	le := binary.LittleEndian
	tag := le.Uint16(body[0:])
	channels := int(le.Uint16(body[2:]))
	rate := le.Uint32(body[4:])
	blockAlign := int(le.Uint16(body[12:]))
	bits := int(le.Uint16(body[14:]))
	if tag == tagExtensible {
		// cbSize(2) validBits(2) channelMask(4), then the sub-format GUID
		// whose first two bytes are the real tag.
		if size < 40 {
			return encoding{}, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", ErrFormat, size)
		}
		tag = le.Uint16(body[24:])
	}
	switch tag {
	case tagPCM, tagFloat:
	case tagALaw:
		return encoding{}, fmt.Errorf("%w: A-law encoding (want PCM)", ErrFormat)
	case tagMuLaw:
		return encoding{}, fmt.Errorf("%w: µ-law encoding (want PCM)", ErrFormat)
	default:
		return encoding{}, fmt.Errorf("%w: format tag %#04x (want PCM)", ErrFormat, tag)
	}
	if channels < 1 || channels > MaxChannels {
		return encoding{}, fmt.Errorf("%w: %d channels", ErrFormat, channels)
	}
	if rate == 0 || rate > 1<<20 {
		return encoding{}, fmt.Errorf("%w: sample rate %d Hz", ErrFormat, rate)
	}
	switch {
	case tag == tagPCM && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
	case tag == tagFloat && (bits == 32 || bits == 64):
	default:
		kind := "integer"
		if tag == tagFloat {
			kind = "float"
		}
		return encoding{}, fmt.Errorf("%w: %d-bit %s samples", ErrFormat, bits, kind)
	}
	width := bits / 8
	if blockAlign != channels*width {
		return encoding{}, fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrFormat, blockAlign, channels, bits)
	}
	return encoding{tag: tag, channels: channels, rate: int(rate), width: width}, nil
}

// readData reads a data chunk of size bytes in slices, so a header that lies
// about its size costs no more memory than the bytes that follow it.
func readData(r io.Reader, e encoding, size uint32) ([]int16, error) {
	frame := e.channels * e.width
	toEOF := size == unknownSize
	remaining := int64(size)
	// Room for what the header claims, up to 1 s of 16 kHz stereo: more
	// is allocated only as the bytes arrive.
	out := make([]int16, 0, min(remaining/int64(e.width), 1<<15))
	var buf [8192]byte
	have := 0 // bytes at the front of buf left over from the previous read
	for toEOF || remaining > 0 {
		want := len(buf) - have
		if !toEOF {
			want = int(min(int64(want), remaining))
		}
		n, err := io.ReadFull(r, buf[have:have+want])
		remaining -= int64(n)
		have += n
		whole := have - have%frame
		out = convert(out, buf[:whole], e)
		have = copy(buf[:], buf[whole:have])
		if err != nil {
			if toEOF {
				return out, nil
			}
			return out, fmt.Errorf("%w: data chunk declares %d bytes, %d present", ErrTruncated, size, int64(size)-remaining)
		}
	}
	// A size that is not a whole number of frames leaves a partial frame
	// in buf: dropped, like the tail of a cut-off recording.
	return out, nil
}

// convert appends the samples in b, whole samples of encoding e, as int16.
func convert(dst []int16, b []byte, e encoding) []int16 {
	le := binary.LittleEndian
	switch {
	case e.tag == tagFloat && e.width == 4:
		for i := 0; i+4 <= len(b); i += 4 {
			dst = append(dst, floatTo16(float64(math.Float32frombits(le.Uint32(b[i:])))))
		}
	case e.tag == tagFloat:
		for i := 0; i+8 <= len(b); i += 8 {
			dst = append(dst, floatTo16(math.Float64frombits(le.Uint64(b[i:]))))
		}
	case e.width == 1: // unsigned, centred on 128
		for _, v := range b {
			dst = append(dst, int16(int(v)-128)<<8)
		}
	case e.width == 2:
		for i := 0; i+2 <= len(b); i += 2 {
			dst = append(dst, int16(le.Uint16(b[i:])))
		}
	case e.width == 3:
		for i := 0; i+3 <= len(b); i += 3 {
			v := int32(uint32(b[i])<<8|uint32(b[i+1])<<16|uint32(b[i+2])<<24) >> 8
			dst = append(dst, round16(int64(v), 8))
		}
	case e.width == 4:
		for i := 0; i+4 <= len(b); i += 4 {
			dst = append(dst, round16(int64(int32(le.Uint32(b[i:]))), 16))
		}
	}
	return dst
}

// round16 drops the low shift bits of v, rounding to nearest and saturating.
func round16(v int64, shift uint) int16 {
	v = (v + 1<<(shift-1)) >> shift
	return int16(min(max(v, math.MinInt16), math.MaxInt16))
}

func floatTo16(f float64) int16 {
	if math.IsNaN(f) {
		return 0
	}
	return audio.Clamp16(f * 32768)
}

// ToMono appends to dst the mono mix of interleaved samples with the given
// number of channels (the average of each frame, rounded) and returns it.
// With channels ≤ 1 it copies. A partial frame at the end is dropped.
func ToMono(dst, interleaved []int16, channels int) []int16 {
	if channels <= 1 {
		return append(dst, interleaved...)
	}
	for i := 0; i+channels <= len(interleaved); i += channels {
		var sum int
		for _, s := range interleaved[i : i+channels] {
			sum += int(s)
		}
		dst = append(dst, audio.Clamp16(float64(sum)/float64(channels)))
	}
	return dst
}
