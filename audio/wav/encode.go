package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/voicegate/voicegate/audio"
)

// ErrTooLong reports audio that does not fit in a WAVE file's 32-bit sizes.
var ErrTooLong = errors.New("wav: data longer than a WAVE file can hold")

// Header returns the 44-byte header of a 16-bit PCM WAVE file in format f
// whose data chunk holds dataBytes bytes. For a stream whose length is not
// known up front (writing to a pipe), pass -1: any dataBytes outside
// [0, MaxDataBytes] writes 0xFFFFFFFF sizes, which Decode, like most readers,
// takes as "data until the end of the input". f is not checked; Encode and
// NewWriter check theirs.
func Header(f audio.Format, dataBytes int) []byte { return header(f, int64(dataBytes)) }

func header(f audio.Format, dataBytes int64) []byte {
	riff, data := uint32(unknownSize), uint32(unknownSize)
	if dataBytes >= 0 && dataBytes <= MaxDataBytes {
		data = uint32(dataBytes)
		riff = uint32(HeaderSize - 8 + dataBytes)
	}
	blockAlign := 2 * f.Channels
	h := make([]byte, 0, HeaderSize)
	le := binary.LittleEndian
	h = append(h, "RIFF"...)
	h = le.AppendUint32(h, riff)
	h = append(h, "WAVEfmt "...)
	h = le.AppendUint32(h, 16)
	h = le.AppendUint16(h, tagPCM)
	h = le.AppendUint16(h, uint16(f.Channels))
	h = le.AppendUint32(h, uint32(f.SampleRate))
	h = le.AppendUint32(h, uint32(f.SampleRate*blockAlign))
	h = le.AppendUint16(h, uint16(blockAlign))
	h = le.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = le.AppendUint32(h, data)
	return h
}

// checkFormat reports whether f can be written.
func checkFormat(f audio.Format) error {
	if f.SampleRate <= 0 || f.SampleRate > 1<<20 || f.Channels < 1 || f.Channels > MaxChannels {
		return fmt.Errorf("wav: cannot write format %d Hz, %d channels", f.SampleRate, f.Channels)
	}
	return nil
}

// Encode writes samples (interleaved when f.Channels > 1) to w as a 16-bit
// PCM WAVE file in format f. It does not retain samples.
func Encode(w io.Writer, f audio.Format, samples []int16) error {
	if err := checkFormat(f); err != nil {
		return err
	}
	if len(samples)%f.Channels != 0 {
		return fmt.Errorf("wav: %d samples are not whole frames of %d channels", len(samples), f.Channels)
	}
	if int64(len(samples))*2 > MaxDataBytes {
		return ErrTooLong
	}
	if _, err := w.Write(Header(f, 2*len(samples))); err != nil {
		return err
	}
	// In slices, so a long file does not need a second copy of itself.
	buf := make([]byte, 0, 8192)
	for len(samples) > 0 {
		n := min(len(samples), cap(buf)/2)
		buf = audio.EncodePCM16(buf[:0], samples[:n])
		if _, err := w.Write(buf); err != nil {
			return err
		}
		samples = samples[n:]
	}
	return nil
}

// Writer streams 16-bit PCM to a WAVE file, e.g. a recording. It writes the
// header at once with unknown sizes, so a file cut short by a crash still
// decodes, and fixes the sizes on Close. A Writer is not safe for concurrent
// use.
type Writer struct {
	w      io.WriteSeeker
	f      audio.Format
	start  int64  // offset of the header in w
	n      int64  // data bytes written
	buf    []byte // reused by WriteSamples
	err    error  // first error; every later call returns it
	closed bool
}

// NewWriter writes a header for format f to w, at its current position, and
// returns a Writer that appends samples after it. The caller must not move
// w's offset until Close. The caller keeps
// ownership of w: Close does not close it.
func NewWriter(w io.WriteSeeker, f audio.Format) (*Writer, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: writer needs a seekable file: %w", err)
	}
	if _, err := w.Write(Header(f, -1)); err != nil {
		return nil, err
	}
	return &Writer{w: w, f: f, start: start}, nil
}

// Format returns the format being written.
func (w *Writer) Format() audio.Format { return w.f }

// Len returns the number of samples (all channels) written so far.
func (w *Writer) Len() int64 { return w.n / 2 }

// WriteSamples appends samples, interleaved when the format has more than one
// channel. It does not retain samples and, once its scratch buffer has grown
// to the frame size, allocates nothing.
func (w *Writer) WriteSamples(samples []int16) error {
	if err := w.check(2 * len(samples)); err != nil {
		return err
	}
	w.buf = audio.EncodePCM16(w.buf[:0], samples)
	return w.write(w.buf)
}

// Write appends little-endian PCM16 bytes, as received from the wire. Each
// call must carry whole frames (2 bytes per channel); otherwise it writes
// nothing and returns an error. Write does not retain p.
func (w *Writer) Write(p []byte) (int, error) {
	if len(p)%(2*w.f.Channels) != 0 {
		return 0, fmt.Errorf("wav: write of %d bytes is not whole frames of %d channels: %w", len(p), w.f.Channels, audio.ErrOddLength)
	}
	if err := w.check(len(p)); err != nil {
		return 0, err
	}
	if err := w.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *Writer) check(n int) error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return errors.New("wav: write after Close")
	case w.n+int64(n) > MaxDataBytes:
		return ErrTooLong
	}
	return nil
}

func (w *Writer) write(p []byte) error {
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return err
}

// Close writes the final sizes into the header and leaves w positioned at
// the end of the file. It does not close w. Close is idempotent: later
// calls return the first call's result.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	h := header(w.f, w.n)
	err := w.patch(w.start+4, h[4:8])
	if err == nil {
		err = w.patch(w.start+40, h[40:44])
	}
	if err == nil {
		_, err = w.w.Seek(w.start+HeaderSize+w.n, io.SeekStart)
	}
	if err != nil {
		w.err = fmt.Errorf("wav: fixing header sizes: %w", err)
	}
	return w.err
}

func (w *Writer) patch(off int64, b []byte) error {
	if _, err := w.w.Seek(off, io.SeekStart); err != nil {
		return err
	}
	_, err := w.w.Write(b)
	return err
}
