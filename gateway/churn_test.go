package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// TestChurn opens and closes 10,000 sessions against a real server, the
// way a flood of short-lived clients would: a third type a message and
// close cleanly, a third close cleanly at once, a third drop the socket.
// While it runs, no more sessions than the cap wait for resume; once the
// resume window has passed, goroutines, open files and the heap are back
// where they started.
func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("churn: 10,000 sessions")
	}
	const (
		sessions    = 10_000
		workers     = 16
		maxDetached = 64
		window      = time.Second
	)
	s := newServer(t, func(o *gateway.Options) {
		o.Stages = pipeline.Stages{LLM: &echo.Echo{}} // text only, instant replies
		o.ResumeWindow = window
		o.MaxDetachedSessions = maxDetached
		o.MaxSessionsPerIP = workers * 2
		o.SessionRate, o.SessionBurst = 1e9, sessions
	})
	hc := s.ts.Client()
	one := func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			return err
		}
		defer ws.CloseNow()
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"session.start"}`)); err != nil {
			return err
		}
		if err := readUntil(ctx, ws, "session.started"); err != nil {
			return err
		}
		switch i % 3 {
		case 0:
			if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"input.text","text":"`+strings.Repeat("churn ", 40)+`"}`)); err != nil {
				return err
			}
			if err := readUntil(ctx, ws, "response.done"); err != nil {
				return err
			}
			return ws.Close(websocket.StatusNormalClosure, "")
		case 1:
			return ws.Close(websocket.StatusNormalClosure, "")
		default:
			return nil // CloseNow: dropped without a close handshake
		}
	}
	settle := func(what string) {
		t.Helper()
		eventually(t, what, func() bool {
			return metric(t, s.reg, "voicegate_sessions_active", nil) == 0 && metric(t, s.reg, "voicegate_sessions_detached", nil) == 0
		})
	}

	var failed atomic.Int64
	churn := func(n int) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
					if err := one(i); err != nil && failed.Add(1) == 1 {
						t.Errorf("session %d: %v", i, err)
					}
				}
			})
		}
		wg.Wait()
	}

	// Warm up at the same pace, long enough for the store to reach its
	// steady size (a map keeps the room it once needed) and for the runtime
	// to have had as many goroutines as the churn has (it keeps their
	// descriptors for reuse); then take the baseline.
	churn(1000)
	settle("warm-up sessions expired")
	goroutines, fds, heap := runtime.NumGoroutine(), openFiles(t), heapInUse()

	var maxSeen, peakGoroutines atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			maxSeen.Store(max(maxSeen.Load(), int64(metric(t, s.reg, "voicegate_sessions_detached", nil))))
			peakGoroutines.Store(max(peakGoroutines.Load(), int64(runtime.NumGoroutine())))
		}
	})
	start := time.Now()
	churn(sessions)
	elapsed := time.Since(start)
	close(stop)
	sampler.Wait()
	peakHeap := heapInUse()

	settle("churned sessions expired")
	var gNow, fNow int
	eventually(t, "goroutines and files back to the baseline", func() bool {
		gNow, fNow = runtime.NumGoroutine(), openFiles(t)
		return gNow <= goroutines && fNow <= fds
	})
	hNow := heapInUse()
	t.Logf("%d sessions in %s (%.0f/s), %d failed; detached at most %d (cap %d), evicted %.0f",
		sessions, elapsed.Round(time.Millisecond), sessions/elapsed.Seconds(), failed.Load(), maxSeen.Load(), maxDetached,
		metric(t, s.reg, "voicegate_sessions_evicted_total", nil))
	t.Logf("goroutines %d → %d → %d; open files %d → %d; heap %.0f KiB → %.0f KiB at the end of the churn → %.0f KiB after the window (%+.1f%%)",
		goroutines, peakGoroutines.Load(), gNow, fds, fNow, kib(heap), kib(peakHeap), kib(hNow), 100*(float64(hNow)/float64(heap)-1))
	if got := maxSeen.Load(); got > maxDetached || got == 0 {
		t.Errorf("detached sessions peaked at %d, cap %d", got, maxDetached)
	}
	if float64(hNow) > 1.1*float64(heap) {
		t.Errorf("heap %.0f KiB after the window, baseline %.0f KiB", kib(hNow), kib(heap))
	}
}

func readUntil(ctx context.Context, ws *websocket.Conn, typ string) error {
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		var m struct{ Type string }
		if json.Unmarshal(b, &m) == nil && m.Type == typ {
			return nil
		}
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // the second clears what sync.Pools kept through the first
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func kib(n uint64) float64 { return float64(n) / (1 << 10) }

// openFiles counts the process's open file descriptors (Linux).
func openFiles(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}
