package pipelinetest

import (
	"context"
	"time"
)

// sleep waits d, or returns early with ctx's error; with d <= 0 it only
// reports whether ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
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
