package gateway

import (
	"io"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// audioSink is where decoded client audio goes: a *pipeline.Session, which
// resamples and copies it into its inbox. WriteAudio must not retain
// samples.
type audioSink interface {
	WriteAudio(samples []int16)
	DroppedFrames() uint64
}

// audioIn is the per-frame hot path: PCM16 bytes → samples → the session.
// It reuses one sample buffer, so a frame costs no allocation once the
// buffer has grown to the largest frame. It is used by the reader only.
type audioIn struct {
	sink     audioSink
	samples  []int16
	framesIn prometheus.Counter // shared by all connections
	dropped  prometheus.Counter

	frames      uint64 // frames accepted on this connection
	seenDropped uint64 // sink.DroppedFrames() last time it was read
}

// dropCheckEvery is how many frames pass between reads of the sink's drop
// count (it takes a lock); at 20 ms frames, about once a second.
const dropCheckEvery = 50

// errOddFrame is returned (and reported as odd_frame_length) for a frame
// that does not split into whole samples. A preallocated error keeps the
// reject path allocation-free too.
var errOddFrame = &protocol.ProtocolError{Code: protocol.CodeOddFrame, Message: "binary frame has an odd number of bytes; PCM16 samples are 2 bytes each; frame dropped"}

// write decodes frame and hands it to the sink. frame is not retained.
func (a *audioIn) write(frame []byte) error {
	s, err := audio.DecodePCM16(a.samples[:0], frame)
	if err != nil {
		return errOddFrame
	}
	a.samples = s
	a.push(s)
	return nil
}

// push hands samples, decoded already, to the sink and counts them as one
// frame. samples is not retained.
func (a *audioIn) push(s []int16) {
	a.sink.WriteAudio(s)
	a.framesIn.Inc()
	a.frames++
	if a.frames%dropCheckEvery == 0 {
		a.syncDropped()
	}
}

// syncDropped moves the sink's new drops into the shared counter.
func (a *audioIn) syncDropped() {
	if a.sink == nil {
		return
	}
	if d := a.sink.DroppedFrames(); d > a.seenDropped {
		a.dropped.Add(float64(d - a.seenDropped))
		a.seenDropped = d
	}
}

// readMessage reads the rest of a message into *buf and returns its length.
// The buffer grows as needed, to at most limit+1 bytes: one more than a
// message may have, so an oversized one shows without being read whole.
// Buffers start small, so an idle connection holds little.
func readMessage(r io.Reader, buf *[]byte, limit int) (int, error) {
	b := *buf
	n := 0
	for {
		if n == len(b) {
			if n > limit {
				return n, nil
			}
			grown := make([]byte, min(max(2*len(b), 1024), limit+1))
			copy(grown, b[:n])
			b, *buf = grown, grown
		}
		m, err := r.Read(b[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
