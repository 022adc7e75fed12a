package audio

import (
	"errors"
	"io"
)

// ReadPCM16 reads little-endian PCM16 from r as it arrives and calls emit
// with the whole samples of each read, carrying a split sample's first byte
// over to the next read, so a stream cut at odd byte boundaries loses
// nothing. The slice passed to emit is reused after emit returns.
//
// It stops at the end of r, returning io.EOF as nil, or at the first error
// of r or emit, returned as is. half reports that the stream ended on half a
// sample, which was dropped.
func ReadPCM16(r io.Reader, bufBytes int, emit func([]int16) error) (half bool, err error) {
	bufBytes = max(bufBytes&^1, 2)
	buf := make([]byte, bufBytes+1)
	pcm := make([]int16, 0, bufBytes/2)
	carry := 0 // 1 when buf[0] holds the first byte of a split sample
	for {
		n, rerr := r.Read(buf[carry:])
		n += carry
		whole := n &^ 1
		if whole > 0 {
			pcm, _ = DecodePCM16(pcm[:0], buf[:whole])
			if err := emit(pcm); err != nil {
				return false, err
			}
		}
		carry = n - whole
		if carry == 1 {
			buf[0] = buf[whole]
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return carry == 1, nil
			}
			return false, rerr
		}
	}
}
