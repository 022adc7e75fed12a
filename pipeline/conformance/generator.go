package conformance

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/pipeline"
)

// TestGenerator checks g against the Generator contract with a short
// conversation: it streams a non-empty reply in whole runes without
// modifying its messages; an emit error stops it after that one call and is
// returned; a cancel after the first delta ends it within CancelWithin with
// context.Canceled. Every call runs under ctx. It returns nil, or an error
// joining every failed check.
func TestGenerator(ctx context.Context, g pipeline.Generator) error {
	msgs := []pipeline.Message{
		{Role: pipeline.RoleSystem, Content: "Be brief."},
		{Role: pipeline.RoleUser, Content: "Tell me about the weather today."},
	}
	snapshot := append([]pipeline.Message(nil), msgs...)

	return run(ctx, "TestGenerator", []check{
		{"streams whole runes", func(ctx context.Context, fail failFunc) {
			var b strings.Builder
			deltas := 0
			err := g.Generate(ctx, msgs, func(d string) error {
				if !utf8.ValidString(d) {
					fail("delta %q splits a rune", d)
				}
				deltas++
				b.WriteString(d)
				return nil
			})
			if err != nil {
				fail("%v", err)
				return
			}
			if strings.TrimSpace(b.String()) == "" || deltas == 0 {
				fail("no reply (%d deltas)", deltas)
				return
			}
			for i := range msgs {
				if !reflect.DeepEqual(msgs[i], snapshot[i]) {
					fail("Generate modified its messages")
					return
				}
			}
		}},
		{"emit error stops it", func(ctx context.Context, fail failFunc) {
			stop := errors.New("client went away")
			calls := 0
			err := g.Generate(ctx, msgs, func(string) error {
				calls++
				return stop
			})
			if !errors.Is(err, stop) {
				fail("Generate returned %v, want emit's error", err)
				return
			}
			if calls != 1 {
				fail("emit called %d times after it failed once", calls)
			}
		}},
		{"cancel stops it", func(ctx context.Context, fail failFunc) {
			cancelStops(ctx, fail, "Generate", func(ctx context.Context, delta func() error) error {
				return g.Generate(ctx, msgs, func(string) error { return delta() })
			})
		}},
	})
}

// cancelStops checks that call, a model call that calls delta for each
// piece it emits, returns context.Canceled within CancelWithin of a cancel
// made at its first piece.
func cancelStops(ctx context.Context, fail failFunc, name string, call func(ctx context.Context, delta func() error) error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var at time.Time
	err := call(ctx, func() error {
		if at.IsZero() {
			cancel()
			at = time.Now()
		}
		return nil
	})
	if at.IsZero() {
		fail("no delta emitted (%v)", err)
		return
	}
	if !errors.Is(err, context.Canceled) {
		fail("%s returned %v, want context.Canceled", name, err)
		return
	}
	if d := time.Since(at); d > CancelWithin {
		fail("returned %v after the cancel", d)
	}
}
