package pipeline

import "sync"

// inbox is the bounded queue between a connection's reader and a session's
// audio loop. Its policy is drop-oldest: a reader never blocks, and when the
// loop falls behind the stalest audio is lost first, keeping latency bounded.
// Slot memory is allocated on the first push (an idle session costs
// nothing) and reused after, so push and pop allocate nothing in the steady
// state. When pop empties the queue the ring starts again at slot 0: a loop
// that keeps up (the usual case: at most a frame or two queued) reuses the
// same couple of slots, in cache, instead of walking the whole ring (32 KiB
// at the default 1 s) through memory a session at a time.
type inbox struct {
	mu          sync.Mutex
	slotSamples int
	slots       [][]int16
	head        int // index of the oldest frame
	n           int // frames queued
	dropped     uint64
	ready       chan struct{} // one token: "something was pushed"
}

func newInbox(frames, slotSamples int) *inbox {
	return &inbox{slotSamples: slotSamples, slots: make([][]int16, frames), ready: make(chan struct{}, 1)}
}

func (in *inbox) allocate() {
	backing := make([]int16, len(in.slots)*in.slotSamples)
	for i := range in.slots {
		in.slots[i] = backing[i*in.slotSamples : i*in.slotSamples : (i+1)*in.slotSamples]
	}
}

// push copies samples in, splitting them across slots as needed.
func (in *inbox) push(samples []int16) {
	if len(samples) == 0 {
		return
	}
	in.mu.Lock()
	if cap(in.slots[0]) == 0 {
		in.allocate()
	}
	for len(samples) > 0 {
		if in.n == len(in.slots) {
			in.head = (in.head + 1) % len(in.slots)
			in.n--
			in.dropped++
		}
		i := (in.head + in.n) % len(in.slots)
		k := min(len(samples), cap(in.slots[i]))
		in.slots[i] = append(in.slots[i][:0], samples[:k]...)
		samples = samples[k:]
		in.n++
	}
	in.mu.Unlock()
	in.wake()
}

// wake leaves the loop a token on ready, unless one is there.
func (in *inbox) wake() {
	select {
	case in.ready <- struct{}{}:
	default:
	}
}

// empty reports whether no frame is queued.
func (in *inbox) empty() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.n == 0
}

// pop copies the oldest frame into dst[:0] and returns it, or false if empty.
func (in *inbox) pop(dst []int16) ([]int16, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.n == 0 {
		return dst, false
	}
	dst = append(dst[:0], in.slots[in.head]...)
	in.head = (in.head + 1) % len(in.slots)
	if in.n--; in.n == 0 {
		in.head = 0
	}
	return dst, true
}

func (in *inbox) droppedFrames() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.dropped
}
