package pipeline

import (
	"context"
	"time"
)

// Sleep waits for d, or returns ctx's error as soon as ctx is done: the
// pause of a provider that streams at a pace (a fake model's tokens, a
// retry's back-off) and must stop at once on barge-in. d ≤ 0 returns
// ctx.Err() without waiting.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
