package pcmstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	errEmit := errors.New("emit failed")
	errEngine := errors.New("engine failed")
	tests := []struct {
		name      string
		chunks    int
		engineErr error
		emitErrAt int // fail emit at this call (1-based); 0 never
		cancelAt  int // cancel ctx at this emit call; 0 never
		want      error
		wantMax   int // samples received at most
	}{
		{name: "all audio arrives", chunks: 50, wantMax: 50 * 160},
		{name: "engine error after audio", chunks: 3, engineErr: errEngine, want: errEngine},
		{name: "emit error stops the engine", chunks: 1000, emitErrAt: 2, want: errEmit},
		{name: "cancel stops the engine", chunks: 1000, cancelAt: 1, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pushed, got, calls := 0, 0, 0
			err := Run(ctx, func(p []int16) error {
				calls++
				got += len(p)
				if calls == tt.cancelAt {
					cancel()
				}
				if calls == tt.emitErrAt {
					return errEmit
				}
				return nil
			}, func(s *Stream) error {
				chunk := make([]int16, 160)
				for range tt.chunks {
					pushed += len(chunk)
					if !s.Push(chunk) {
						return nil
					}
					time.Sleep(50 * time.Microsecond)
				}
				return tt.engineErr
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Run() = %v, want %v", err, tt.want)
			}
			if tt.want == nil && got != pushed {
				t.Fatalf("received %d samples, engine pushed %d", got, pushed)
			}
			if tt.chunks == 1000 && pushed == 1000*160 {
				t.Fatal("engine was not stopped")
			}
		})
	}
}
