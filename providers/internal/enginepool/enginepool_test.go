package enginepool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errProvider = errors.New("provider: closed")

// engine is a test engine that knows whether it was freed.
type engine struct {
	id    int
	freed atomic.Int32
}

// factory makes and frees engines and counts both.
type factory struct {
	mu   sync.Mutex
	made []*engine
	fail error         // returned by make when set
	gate chan struct{} // when set, make waits on it
}

func (f *factory) make() (*engine, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	e := &engine{id: len(f.made)}
	f.made = append(f.made, e)
	return e, nil
}

func (f *factory) free(e *engine) { e.freed.Add(1) }

func (f *factory) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.made)
}

// allFreedOnce reports whether every engine made was freed exactly once.
func (f *factory) allFreedOnce(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.made {
		if n := e.freed.Load(); n != 1 {
			t.Errorf("engine %d freed %d times, want 1", e.id, n)
		}
	}
}

// closeAndCheck closes p, waits for its engines and checks that each was
// freed once.
func closeAndCheck(t *testing.T, p *Pool[*engine], f *factory) {
	t.Helper()
	p.Close()
	p.Wait()
	f.allFreedOnce(t)
}

// getLater calls Get in a goroutine, gives it time to start waiting and
// returns where its error will come.
func getLater(p *Pool[*engine]) <-chan error {
	got := make(chan error, 1)
	go func() {
		_, err := p.Get(context.Background())
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	return got
}

func newPool(f *factory, size int) *Pool[*engine] {
	return New(size, f.make, f.free, errProvider)
}

func short(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func TestGet(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		size      int
		hold      int // engines taken (and kept) before the Get under test
		idle      int // of those, given back first
		ctx       func(*testing.T) context.Context
		wantErr   error
		wantMade  int // engines made once the Get has returned
		wantReuse bool
	}{
		{name: "first makes one", size: 2, ctx: func(*testing.T) context.Context { return context.Background() }, wantMade: 1},
		{name: "idle is reused", size: 2, hold: 1, idle: 1, ctx: func(*testing.T) context.Context { return context.Background() }, wantMade: 1, wantReuse: true},
		{name: "below size makes another", size: 2, hold: 1, ctx: func(*testing.T) context.Context { return context.Background() }, wantMade: 2},
		{name: "full waits for ctx", size: 2, hold: 2, ctx: short, wantErr: context.DeadlineExceeded, wantMade: 2},
		{name: "done ctx with a free slot", size: 2, ctx: func(*testing.T) context.Context { return cancelled }, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &factory{}
			p := newPool(f, tt.size)
			var held []*engine
			for range tt.hold {
				e, err := p.Get(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, e)
			}
			for _, e := range held[:tt.idle] {
				p.Put(e)
			}
			held = held[tt.idle:]
			e, err := p.Get(tt.ctx(t))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get: %v, want %v", err, tt.wantErr)
			}
			if got := f.count(); got != tt.wantMade {
				t.Errorf("made %d engines, want %d", got, tt.wantMade)
			}
			if err == nil {
				if e == nil {
					t.Fatal("Get returned no engine and no error")
				}
				if reused := e.id == 0 && tt.hold > 0; reused != tt.wantReuse {
					t.Errorf("got engine %d, reuse %v, want %v", e.id, reused, tt.wantReuse)
				}
				held = append(held, e)
			}
			for _, e := range held {
				p.Put(e)
			}
			closeAndCheck(t, p, f)
		})
	}
}

func TestClose(t *testing.T) {
	tests := []struct {
		name  string
		gated bool // make waits until the test closes f.gate
		run   func(t *testing.T, p *Pool[*engine], f *factory)
	}{
		{"frees idle and fails Get", false, func(t *testing.T, p *Pool[*engine], f *factory) {
			e, _ := p.Get(context.Background())
			p.Put(e)
			p.Close()
			if n := e.freed.Load(); n != 1 {
				t.Errorf("idle engine freed %d times by Close, want 1", n)
			}
			if _, err := p.Get(context.Background()); !errors.Is(err, errProvider) {
				t.Errorf("Get after Close: %v, want %v", err, errProvider)
			}
		}},
		{"idempotent", false, func(t *testing.T, p *Pool[*engine], f *factory) {
			e, _ := p.Get(context.Background())
			p.Put(e)
			p.Close()
			p.Close()
		}},
		{"engine given back after Close is freed", false, func(t *testing.T, p *Pool[*engine], f *factory) {
			e, _ := p.Get(context.Background())
			p.Close()
			if n := e.freed.Load(); n != 0 {
				t.Fatalf("engine in use freed %d times by Close", n)
			}
			p.Put(e)
			if n := e.freed.Load(); n != 1 {
				t.Errorf("engine given back after Close freed %d times, want 1", n)
			}
		}},
		{"added after Close is freed", false, func(t *testing.T, p *Pool[*engine], f *factory) {
			e, _ := f.make()
			p.Close()
			p.Add(e)
		}},
		{"wakes a waiting Get", false, func(t *testing.T, p *Pool[*engine], f *factory) {
			e, _ := p.Get(context.Background())
			got := getLater(p)
			p.Close()
			select {
			case err := <-got:
				if !errors.Is(err, errProvider) {
					t.Errorf("waiting Get: %v, want %v", err, errProvider)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not wake the waiting Get")
			}
			p.Put(e)
		}},
		{"during make frees the new engine", true, func(t *testing.T, p *Pool[*engine], f *factory) {
			got := getLater(p)
			p.Close()
			close(f.gate)
			if err := <-got; !errors.Is(err, errProvider) {
				t.Errorf("Get whose engine was made during Close: %v, want %v", err, errProvider)
			}
			if f.count() != 1 {
				t.Errorf("made %d engines, want 1", f.count())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &factory{}
			if tt.gated {
				f.gate = make(chan struct{})
			}
			p := newPool(f, 1)
			tt.run(t, p, f)
			closeAndCheck(t, p, f)
		})
	}
}

func TestAddPreloads(t *testing.T) {
	f := &factory{}
	p := newPool(f, 2)
	pre, _ := f.make()
	p.Add(pre)
	e, err := p.Get(context.Background())
	if err != nil || e != pre {
		t.Fatalf("Get = engine %v, %v; want the added one", e, err)
	}
	if f.count() != 1 {
		t.Errorf("made %d engines, want only the added one", f.count())
	}
	p.Put(e)
	closeAndCheck(t, p, f)
}

func TestFailedMakeReleasesSlot(t *testing.T) {
	boom := errors.New("cannot load")
	f := &factory{fail: boom}
	p := newPool(f, 1)
	for range 3 {
		if _, err := p.Get(short(t)); !errors.Is(err, boom) {
			t.Fatalf("Get: %v, want %v (a failed make must give its slot back)", err, boom)
		}
	}
	closeAndCheck(t, p, f)
}

func TestDiscard(t *testing.T) {
	f := &factory{}
	p := newPool(f, 1)
	e, _ := p.Get(context.Background())
	p.Discard(e)
	if n := e.freed.Load(); n != 1 {
		t.Errorf("discarded engine freed %d times, want 1", n)
	}
	e2, err := p.Get(short(t))
	if err != nil {
		t.Fatalf("Get after Discard: %v (its slot must be free)", err)
	}
	if e2 == e {
		t.Error("Get returned the discarded engine")
	}
	p.Put(e2)
	closeAndCheck(t, p, f)
}

func TestWaitForTakenEngines(t *testing.T) {
	f := &factory{}
	p := newPool(f, 2)
	e, _ := p.Get(context.Background())
	p.Close()
	waited := make(chan struct{})
	go func() {
		p.Wait()
		close(waited)
	}()
	select {
	case <-waited:
		t.Fatal("Wait returned with an engine still taken")
	case <-time.After(30 * time.Millisecond):
	}
	p.Put(e)
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return once the engine was given back")
	}
	f.allFreedOnce(t)
}

func TestDefaultClosedError(t *testing.T) {
	p := New(1, func() (int, error) { return 1, nil }, nil, nil)
	p.Close()
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
}

// TestConcurrent takes and gives back engines from many goroutines while
// the pool is closed under them: never more than size in use, every engine
// freed once.
func TestConcurrent(t *testing.T) {
	const size = 3
	f := &factory{}
	p := newPool(f, size)
	var wg sync.WaitGroup
	var inUse, most atomic.Int32
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				e, err := p.Get(context.Background())
				if errors.Is(err, errProvider) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				n := inUse.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				inUse.Add(-1)
				if e.id%5 == 4 {
					p.Discard(e)
				} else {
					p.Put(e)
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	p.Close()
	p.Wait()
	wg.Wait()
	if m := most.Load(); m > size || m < 1 {
		t.Errorf("at most %d engines in use at once, want 1 to %d", m, size)
	}
	if f.count() < size {
		t.Errorf("made %d engines, want at least %d", f.count(), size)
	}
	f.allFreedOnce(t)
}

func TestNewSize(t *testing.T) {
	for _, size := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with size %d did not panic", size)
				}
			}()
			New(size, func() (int, error) { return 0, nil }, nil, nil)
		}()
	}
}
