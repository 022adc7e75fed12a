package pipeline

import (
	"slices"
	"testing"
)

// frameOf is a frame of n samples, each v.
func frameOf(v int16, n int) []int16 {
	f := make([]int16, n)
	for i := range f {
		f[i] = v
	}
	return f
}

// TestInboxOrderAndDrops: frames come out in order, the oldest is dropped
// when the ring is full, and the restart at slot 0 when it empties changes
// neither, however pushes and pops interleave.
func TestInboxOrderAndDrops(t *testing.T) {
	const slot = 4
	for _, tc := range []struct {
		name        string
		frames      int
		ops         string // p: push the next frame, o: pop one
		wantPopped  []int16
		wantDropped uint64
		wantLeft    []int16
	}{
		{name: "keeping up", frames: 3, ops: "popopopo", wantPopped: []int16{1, 2, 3, 4}},
		{name: "wraps and drops", frames: 3, ops: "ppoppoppoo", wantPopped: []int16{1, 2, 4, 5}, wantDropped: 1, wantLeft: []int16{6}},
		{name: "wraps", frames: 3, ops: "ppopoppoooo", wantPopped: []int16{1, 2, 3, 4, 5}},
		{name: "full drops oldest", frames: 3, ops: "ppppp", wantDropped: 2, wantLeft: []int16{3, 4, 5}},
		{name: "drops then empties then restarts", frames: 2, ops: "pppooppo", wantPopped: []int16{2, 3, 4}, wantDropped: 1, wantLeft: []int16{5}},
		{name: "pop on empty", frames: 2, ops: "opoo", wantPopped: []int16{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newInbox(tc.frames, slot)
			var next int16
			var popped []int16
			dst := make([]int16, 0, slot)
			for _, op := range tc.ops {
				if op == 'p' {
					next++
					in.push(frameOf(next, slot))
					continue
				}
				var ok bool
				if dst, ok = in.pop(dst); ok {
					if len(dst) != slot || slices.Max(dst) != dst[0] || slices.Min(dst) != dst[0] {
						t.Fatalf("popped %v: not one whole frame", dst)
					}
					popped = append(popped, dst[0])
				}
			}
			var left []int16
			for {
				var ok bool
				if dst, ok = in.pop(dst); !ok {
					break
				}
				left = append(left, dst[0])
			}
			if !slices.Equal(popped, tc.wantPopped) || !slices.Equal(left, tc.wantLeft) || in.droppedFrames() != tc.wantDropped {
				t.Errorf("popped %v, left %v, dropped %d; want %v, %v, %d", popped, left, in.droppedFrames(), tc.wantPopped, tc.wantLeft, tc.wantDropped)
			}
		})
	}
}

// TestInboxSplitsLargeFrames: a frame longer than a slot spans slots and
// comes out as consecutive slot-sized pieces.
func TestInboxSplitsLargeFrames(t *testing.T) {
	in := newInbox(4, 3)
	in.push([]int16{1, 2, 3, 4, 5, 6, 7})
	var got [][]int16
	for {
		f, ok := in.pop(nil)
		if !ok {
			break
		}
		got = append(got, f)
	}
	want := [][]int16{{1, 2, 3}, {4, 5, 6}, {7}}
	if !slices.EqualFunc(got, want, slices.Equal[[]int16]) {
		t.Errorf("pieces %v, want %v", got, want)
	}
}

// TestInboxAllocatesNothingWarm: push and pop allocate nothing once the
// slots exist.
func TestInboxAllocatesNothingWarm(t *testing.T) {
	in := newInbox(50, slotSamples)
	frame := make([]int16, slotSamples)
	dst := make([]int16, 0, slotSamples)
	in.push(frame)
	dst, _ = in.pop(dst)
	if n := testing.AllocsPerRun(200, func() {
		in.push(frame)
		dst, _ = in.pop(dst)
	}); n != 0 {
		t.Errorf("%v allocations per push and pop, want 0", n)
	}
}

// BenchmarkInboxManySessions is the per-frame queue of 1,000 sessions
// taking turns, as on a loaded gateway: each push and pop touches a
// different session's inbox, so what it costs depends on whether the slots
// used are still in cache.
func BenchmarkInboxManySessions(b *testing.B) {
	const sessions = 1000
	boxes := make([]*inbox, sessions)
	for i := range boxes {
		boxes[i] = newInbox(50, slotSamples)
	}
	frame := make([]int16, slotSamples)
	dst := make([]int16, 0, slotSamples)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		in := boxes[i%sessions]
		in.push(frame)
		dst, _ = in.pop(dst)
	}
}

// TestInboxKeepsUpInOneSlot: a loop that keeps up (a push, then a pop)
// reuses slot 0 every time rather than walking the ring.
func TestInboxKeepsUpInOneSlot(t *testing.T) {
	in := newInbox(50, slotSamples)
	frame := make([]int16, slotSamples)
	for i := range 10 {
		in.push(frame)
		if _, ok := in.pop(nil); !ok || in.head != 0 || in.n != 0 {
			t.Fatalf("after push and pop %d: head %d, %d queued; want 0, 0", i, in.head, in.n)
		}
	}
}
