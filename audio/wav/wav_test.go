package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/voicegate/voicegate/audio"
)

// chunk is one RIFF chunk for building test files by hand.
type chunk struct {
	id   string
	body []byte
}

// riff assembles a WAVE file, padding odd chunks as the format requires.
func riff(chunks ...chunk) []byte {
	var b []byte
	for _, c := range chunks {
		b = append(b, c.id...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c.body)))
		b = append(b, c.body...)
		if len(c.body)%2 == 1 {
			b = append(b, 0)
		}
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(b)))...)
	out = append(out, "WAVE"...)
	return append(out, b...)
}

func fmtChunk(tag uint16, channels, rate, bits int) chunk {
	le := binary.LittleEndian
	align := channels * bits / 8
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*align))
	b = le.AppendUint16(b, uint16(align))
	b = le.AppendUint16(b, uint16(bits))
	return chunk{"fmt ", b}
}

// extensible is the 40-byte fmt chunk of WAVE_FORMAT_EXTENSIBLE with sub-format tag.
func extensible(tag uint16, channels, rate, bits int) chunk {
	c := fmtChunk(tagExtensible, channels, rate, bits)
	le := binary.LittleEndian
	c.body = le.AppendUint16(c.body, 22)           // cbSize
	c.body = le.AppendUint16(c.body, uint16(bits)) // valid bits
	c.body = le.AppendUint32(c.body, 0)            // channel mask
	c.body = le.AppendUint16(c.body, tag)
	c.body = append(c.body, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"...)
	return c
}

func pcm16(samples ...int16) []byte { return audio.EncodePCM16(nil, samples) }

func TestDecode(t *testing.T) {
	le := binary.LittleEndian
	f32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			b = le.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	f64 := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = le.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	mono16k := audio.Format{SampleRate: 16000, Channels: 1}
	tests := []struct {
		name    string
		file    []byte
		format  audio.Format
		samples []int16
	}{
		{"mono 16-bit", riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", pcm16(1, -2, 32767, -32768)}),
			mono16k, []int16{1, -2, 32767, -32768}},
		{"stereo interleaved", riff(fmtChunk(tagPCM, 2, 44100, 16), chunk{"data", pcm16(1, 2, 3, 4)}),
			audio.Format{SampleRate: 44100, Channels: 2}, []int16{1, 2, 3, 4}},
		{"LIST and fact chunks, odd chunk padded", riff(
			chunk{"LIST", []byte("INFOISFT\x03\x00\x00\x00ab\x00")}, // 15 bytes: padded
			fmtChunk(tagPCM, 1, 16000, 16),
			chunk{"fact", le.AppendUint32(nil, 2)},
			chunk{"junk", []byte{1, 2, 3}},
			chunk{"data", pcm16(7, 8)},
			chunk{"LIST", []byte("INFO")}), mono16k, []int16{7, 8}},
		{"fmt chunk with cbSize", riff(chunk{"fmt ", append(fmtChunk(tagPCM, 1, 16000, 16).body, 0, 0)}, chunk{"data", pcm16(5)}),
			mono16k, []int16{5}},
		{"8-bit unsigned", riff(fmtChunk(tagPCM, 1, 8000, 8), chunk{"data", []byte{128, 255, 0, 129, 7}}),
			audio.Format{SampleRate: 8000, Channels: 1}, []int16{0, 127 << 8, -32768, 256, -121 << 8}},
		{"24-bit rounds", riff(fmtChunk(tagPCM, 1, 48000, 24), chunk{"data", []byte{
			0x80, 0x01, 0x00, // 0x000180 → 1.5 → 2
			0x7f, 0x01, 0x00, // 0x00017f → 1.49 → 1
			0x00, 0xff, 0xff, // -256 → -1
			0xff, 0xff, 0x7f, // max → saturates at 32767
			0x00, 0x00, 0x80, // min
		}}), audio.Format{SampleRate: 48000, Channels: 1}, []int16{2, 1, -1, 32767, -32768}},
		{"32-bit int", riff(fmtChunk(tagPCM, 1, 16000, 32), chunk{"data", le.AppendUint32(le.AppendUint32(nil, 0x12348000), 0x80000000)}),
			mono16k, []int16{0x1235, -32768}},
		{"32-bit float", riff(fmtChunk(tagFloat, 1, 16000, 32), chunk{"data", f32(0, 0.5, -0.5, 1, -1, 2, float32(math.NaN()))}),
			mono16k, []int16{0, 16384, -16384, 32767, -32768, 32767, 0}},
		{"64-bit float", riff(fmtChunk(tagFloat, 1, 16000, 64), chunk{"data", f64(0.25, -1.5)}),
			mono16k, []int16{8192, -32768}},
		{"extensible PCM", riff(extensible(tagPCM, 2, 48000, 16), chunk{"data", pcm16(-1, 1)}),
			audio.Format{SampleRate: 48000, Channels: 2}, []int16{-1, 1}},
		{"extensible float", riff(extensible(tagFloat, 1, 24000, 32), chunk{"data", f32(0.5)}),
			audio.Format{SampleRate: 24000, Channels: 1}, []int16{16384}},
		{"size not whole frames: partial frame dropped", riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", []byte{1, 0, 2}}),
			mono16k, []int16{1}},
		{"unknown length reads to the end", append(Header(mono16k, -1), pcm16(3, 4, 5)...),
			mono16k, []int16{3, 4, 5}},
		{"empty data", riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", nil}), mono16k, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, samples, err := Decode(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if f != tt.format {
				t.Errorf("format %v, want %v", f, tt.format)
			}
			if !slices.Equal(samples, tt.samples) {
				t.Errorf("samples %v, want %v", samples, tt.samples)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", pcm16(1, 2, 3, 4)})
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrNotWAV},
		{"short", []byte("RIFF\x00\x00"), ErrNotWAV},
		{"not RIFF", append([]byte("RIFX"), good[4:]...), ErrNotWAV},
		{"not WAVE", append(append([]byte{}, good[:8]...), append([]byte("AVI "), good[12:]...)...), ErrNotWAV},
		{"no fmt", riff(chunk{"LIST", nil}), ErrFormat},
		{"data before fmt", riff(chunk{"data", pcm16(1)}, fmtChunk(tagPCM, 1, 16000, 16)), ErrFormat},
		{"two fmt", riff(fmtChunk(tagPCM, 1, 16000, 16), fmtChunk(tagPCM, 1, 16000, 16)), ErrFormat},
		{"short fmt", riff(chunk{"fmt ", make([]byte, 14)}), ErrFormat},
		{"huge fmt", riff(chunk{"fmt ", make([]byte, 2000)}), ErrFormat},
		{"µ-law", riff(fmtChunk(tagMuLaw, 1, 8000, 8), chunk{"data", []byte{1}}), ErrFormat},
		{"A-law", riff(fmtChunk(tagALaw, 1, 8000, 8), chunk{"data", []byte{1}}), ErrFormat},
		{"ADPCM", riff(fmtChunk(0x0002, 1, 8000, 4), chunk{"data", []byte{1}}), ErrFormat},
		{"12-bit", riff(fmtChunk(tagPCM, 1, 8000, 12), chunk{"data", []byte{1}}), ErrFormat},
		{"16-bit float", riff(fmtChunk(tagFloat, 1, 8000, 16), chunk{"data", []byte{1, 2}}), ErrFormat},
		{"zero channels", riff(fmtChunk(tagPCM, 0, 16000, 16), chunk{"data", nil}), ErrFormat},
		{"too many channels", riff(fmtChunk(tagPCM, 9, 16000, 16), chunk{"data", nil}), ErrFormat},
		{"zero rate", riff(fmtChunk(tagPCM, 1, 0, 16), chunk{"data", nil}), ErrFormat},
		{"bad block align", riff(chunk{"fmt ", func() []byte {
			b := fmtChunk(tagPCM, 2, 16000, 16).body
			b[12] = 3
			return b
		}()}, chunk{"data", nil}), ErrFormat},
		{"short extensible", riff(chunk{"fmt ", append(fmtChunk(tagExtensible, 1, 16000, 16).body, 0, 0)}), ErrFormat},
		{"no data chunk", riff(fmtChunk(tagPCM, 1, 16000, 16)), ErrTruncated},
		{"truncated data", good[:len(good)-3], ErrTruncated},
		{"truncated fmt", good[:20], ErrTruncated},
		{"truncated skipped chunk", riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"LIST", make([]byte, 100)})[:70], ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(bytes.NewReader(tt.file))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDecodeTruncatedKeepsFrames checks that a recording cut short still
// yields the whole frames that arrived, beside the error.
func TestDecodeTruncatedKeepsFrames(t *testing.T) {
	file := riff(fmtChunk(tagPCM, 2, 16000, 16), chunk{"data", pcm16(1, 2, 3, 4, 5, 6)})
	f, samples, err := Decode(bytes.NewReader(file[:len(file)-3])) // half of frame 3 is missing
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error = %v, want ErrTruncated", err)
	}
	if f.Channels != 2 || !slices.Equal(samples, []int16{1, 2, 3, 4}) {
		t.Fatalf("got %v %v, want 2 channels [1 2 3 4]", f, samples)
	}
}

// TestDecodeHugeDeclaredSize checks that Decode allocates for the bytes
// present, not for the size the header claims.
func TestDecodeHugeDeclaredSize(t *testing.T) {
	file := riff(fmtChunk(tagPCM, 1, 16000, 16), chunk{"data", pcm16(1, 2, 3)})
	binary.LittleEndian.PutUint32(file[40:], 0xFFFFFFF0) // ~4 GB
	var ms0, ms1 runtimeMem
	ms0.read()
	_, samples, err := Decode(bytes.NewReader(file))
	ms1.read()
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error = %v, want ErrTruncated", err)
	}
	if !slices.Equal(samples, []int16{1, 2, 3}) {
		t.Fatalf("samples %v", samples)
	}
	if grew := ms1.total - ms0.total; grew > 1<<20 {
		t.Fatalf("Decode allocated %d bytes for a 50-byte input", grew)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		format  audio.Format
		samples []int16
	}{
		{audio.Mono16k, nil},
		{audio.Mono16k, []int16{0, 1, -1, math.MaxInt16, math.MinInt16}},
		{audio.Format{SampleRate: 44100, Channels: 2}, []int16{1, 2, 3, 4, 5, 6}},
		{audio.Format{SampleRate: 22050, Channels: 1}, make([]int16, 10001)}, // longer than one write slice
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := Encode(&buf, tt.format, tt.samples); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != HeaderSize+2*len(tt.samples) {
			t.Errorf("%v: %d bytes, want %d", tt.format, buf.Len(), HeaderSize+2*len(tt.samples))
		}
		f, samples, err := Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if f != tt.format || !slices.Equal(samples, tt.samples) {
			t.Errorf("round trip: %v %d samples, want %v %d", f, len(samples), tt.format, len(tt.samples))
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		format  audio.Format
		samples []int16
	}{
		{"zero rate", audio.Format{Channels: 1}, nil},
		{"zero channels", audio.Format{SampleRate: 16000}, nil},
		{"partial frame", audio.Format{SampleRate: 16000, Channels: 2}, []int16{1, 2, 3}},
	}
	for _, tt := range tests {
		if err := Encode(io.Discard, tt.format, tt.samples); err == nil {
			t.Errorf("%s: Encode succeeded", tt.name)
		}
	}
}

func TestHeader(t *testing.T) {
	h := Header(audio.Mono16k, 640)
	if len(h) != HeaderSize {
		t.Fatalf("len = %d", len(h))
	}
	le := binary.LittleEndian
	checks := []struct {
		name string
		got  uint32
		want uint32
	}{
		{"RIFF size", le.Uint32(h[4:]), 36 + 640},
		{"rate", le.Uint32(h[24:]), 16000},
		{"byte rate", le.Uint32(h[28:]), 32000},
		{"block align", uint32(le.Uint16(h[32:])), 2},
		{"data size", le.Uint32(h[40:]), 640},
		{"unknown data size", le.Uint32(Header(audio.Mono16k, -1)[40:]), 0xFFFFFFFF},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestWriterFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f := audio.Format{SampleRate: 24000, Channels: 1}
	w, err := NewWriter(file, f)
	if err != nil {
		t.Fatal(err)
	}
	var want []int16
	for i := range 50 {
		frame := make([]int16, 480)
		for j := range frame {
			frame[j] = int16(i*1000 + j)
		}
		want = append(want, frame...)
		if i%2 == 0 {
			err = w.WriteSamples(frame)
		} else {
			_, err = w.Write(pcm16(frame...))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Before Close the sizes are unknown, but the file already decodes.
	if _, got, err := Decode(mustOpen(t, path)); err != nil || len(got) != len(want) {
		t.Fatalf("before Close: %d samples, %v", len(got), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.WriteSamples([]int16{1}); err == nil {
		t.Fatal("WriteSamples after Close succeeded")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if le := binary.LittleEndian; le.Uint32(raw[40:]) != uint32(2*len(want)) || le.Uint32(raw[4:]) != uint32(len(raw)-8) {
		t.Fatalf("sizes not fixed: riff %d data %d, file %d bytes", le.Uint32(raw[4:]), le.Uint32(raw[40:]), len(raw))
	}
	gotF, got, err := Decode(bytes.NewReader(raw))
	if err != nil || gotF != f || !slices.Equal(got, want) {
		t.Fatalf("decoded %v, %d samples, %v", gotF, len(got), err)
	}
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// seekBuffer is an in-memory io.WriteSeeker.
type seekBuffer struct {
	b   []byte
	off int64
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if end := int(s.off) + len(p); end > len(s.b) {
		s.b = append(s.b, make([]byte, end-len(s.b))...)
	}
	n := copy(s.b[s.off:], p)
	s.off += int64(n)
	return n, nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += s.off
	case io.SeekEnd:
		off += int64(len(s.b))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	s.off = off
	return off, nil
}

// TestWriterOffset checks a Writer that starts partway into its file.
func TestWriterOffset(t *testing.T) {
	sb := &seekBuffer{b: []byte("prefix")}
	sb.off = 6
	w, err := NewWriter(sb, audio.Format{SampleRate: 8000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte{1, 2, 3}); err == nil {
		t.Fatal("Write of a partial frame succeeded")
	}
	if err := w.WriteSamples([]int16{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 4 || sb.off != int64(len(sb.b)) {
		t.Fatalf("Len %d, offset %d of %d", w.Len(), sb.off, len(sb.b))
	}
	f, got, err := Decode(bytes.NewReader(sb.b[6:]))
	if err != nil || f.Channels != 2 || !slices.Equal(got, []int16{1, 2, 3, 4}) {
		t.Fatalf("decoded %v %v %v", f, got, err)
	}
}

func TestToMono(t *testing.T) {
	tests := []struct {
		in       []int16
		channels int
		want     []int16
	}{
		{[]int16{1, 2, 3}, 1, []int16{1, 2, 3}},
		{[]int16{2, 4, -3, -4, 32767, 32767, -32768, -32768}, 2, []int16{3, -4, 32767, -32768}},
		{[]int16{1, 2, 3, 4, 5}, 2, []int16{2, 4}}, // partial frame dropped; 1.5 rounds away from zero
		{[]int16{3, 3, 6}, 3, []int16{4}},
	}
	for _, tt := range tests {
		if got := ToMono(nil, tt.in, tt.channels); !slices.Equal(got, tt.want) {
			t.Errorf("ToMono(%v, %d) = %v, want %v", tt.in, tt.channels, got, tt.want)
		}
	}
}

func BenchmarkWriterFrame(b *testing.B) {
	w, err := NewWriter(&discardSeeker{}, audio.Mono16k)
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, 320) // 20 ms
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteSamples(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	var buf bytes.Buffer
	if err := Encode(&buf, audio.Mono16k, make([]int16, 16000)); err != nil {
		b.Fatal(err)
	}
	file := buf.Bytes()
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(file)); err != nil {
			b.Fatal(err)
		}
	}
}

type discardSeeker struct{ off int64 }

func (d *discardSeeker) Write(p []byte) (int, error) { d.off += int64(len(p)); return len(p), nil }
func (d *discardSeeker) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekCurrent {
		off += d.off
	}
	d.off = off
	return off, nil
}

// runtimeMem samples the bytes allocated so far.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.total = ms.TotalAlloc
}
