package client

import (
	"sync"

	"github.com/voicegate/voicegate/audio"
)

// audioQueue holds encoded audio frames waiting for the writer: a ring of
// byte slices reused from frame to frame, so SendAudio allocates nothing
// once the ring is warm. When the queue is over its byte budget the oldest
// frames go: late audio is worth less than current audio.
type audioQueue struct {
	mu      sync.Mutex
	slots   [][]byte
	head, n int
	bytes   int // queued
	budget  int // most bytes queued
	dropped uint64
	wake    chan struct{} // one slot: "there is audio"
}

func newAudioQueue(budget int) *audioQueue {
	return &audioQueue{slots: make([][]byte, 256), budget: max(budget, 2), wake: make(chan struct{}, 1)}
}

// push encodes samples as PCM16LE frames of at most maxBytes each. It does
// not retain samples.
func (q *audioQueue) push(samples []int16, maxBytes int) {
	per := max(maxBytes/2, 1)
	q.mu.Lock()
	for len(samples) > 0 {
		k := min(len(samples), per)
		for q.n > 0 && (q.n == len(q.slots) || q.bytes+2*k > q.budget) {
			q.bytes -= len(q.slots[q.head])
			q.head = (q.head + 1) % len(q.slots)
			q.n--
			q.dropped++
		}
		i := (q.head + q.n) % len(q.slots)
		q.slots[i] = audio.EncodePCM16(q.slots[i][:0], samples[:k])
		q.bytes += len(q.slots[i])
		q.n++
		samples = samples[k:]
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop copies the oldest frame into dst[:0] and returns it, or reports that
// the queue is empty.
func (q *audioQueue) pop(dst []byte) ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return dst, false
	}
	dst = append(dst[:0], q.slots[q.head]...)
	q.bytes -= len(q.slots[q.head])
	q.head = (q.head + 1) % len(q.slots)
	q.n--
	return dst, true
}

// reset drops everything queued: audio from before a reconnect is stale.
func (q *audioQueue) reset() {
	q.mu.Lock()
	q.head, q.n, q.bytes = 0, 0, 0
	q.mu.Unlock()
}

// droppedFrames returns how many frames were dropped for want of room.
func (q *audioQueue) droppedFrames() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
