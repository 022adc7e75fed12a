package cache

import (
	"strings"
	"testing"
	"time"
)

// clock is a settable clock for expiry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLRU(t *testing.T) {
	val := func(n int) []byte { return []byte(strings.Repeat("x", n)) }
	size := func(key string, n int) int64 { return int64(len(key)+n) + entryOverhead }
	type op struct {
		put     string // key to put (with a value of n bytes)
		n       int
		advance time.Duration
		get     string // key to get
		want    bool   // get's ok, or put's
	}
	tests := []struct {
		name     string
		max      int64
		ops      []op
		evicted  map[string]int
		entries  int
		wantSize int64
	}{
		{name: "hit and miss", max: 1 << 20, ops: []op{
			{put: "a", n: 10, want: true}, {get: "a", want: true}, {get: "b"},
		}, entries: 1, wantSize: size("a", 10)},
		{name: "least recently used goes first", max: 3 * size("a", 100), ops: []op{
			{put: "a", n: 100, want: true}, {put: "b", n: 100, want: true}, {put: "c", n: 100, want: true},
			{get: "a", want: true}, // b is now the oldest
			{put: "d", n: 100, want: true},
			{get: "b"}, {get: "a", want: true}, {get: "c", want: true}, {get: "d", want: true},
		}, evicted: map[string]int{"size": 1}, entries: 3, wantSize: 3 * size("a", 100)},
		{name: "a large value evicts several", max: 3 * size("a", 100), ops: []op{
			{put: "a", n: 100, want: true}, {put: "b", n: 100, want: true}, {put: "c", n: 100, want: true},
			{put: "d", n: 250, want: true},
			{get: "a"}, {get: "b"}, {get: "c", want: true}, {get: "d", want: true},
		}, evicted: map[string]int{"size": 2}, entries: 2, wantSize: size("c", 100) + size("d", 250)},
		{name: "too large for the cache is not stored", max: 200, ops: []op{
			{put: "a", n: 10, want: true}, {put: "big", n: 200}, {get: "big"}, {get: "a", want: true},
		}, entries: 1, wantSize: size("a", 10)},
		{name: "expires after ttl", max: 1 << 20, ops: []op{
			{put: "a", n: 10, want: true}, {advance: time.Hour - time.Second}, {get: "a", want: true},
			{advance: time.Second}, {get: "a"},
		}, evicted: map[string]int{"expired": 1}, entries: 0, wantSize: 0},
		{name: "a hit does not extend the ttl", max: 1 << 20, ops: []op{
			{put: "a", n: 10, want: true}, {advance: 59 * time.Minute}, {get: "a", want: true},
			{advance: 2 * time.Minute}, {get: "a"},
		}, evicted: map[string]int{"expired": 1}},
		{name: "expired entries at the back go when storing", max: 1 << 20, ops: []op{
			{put: "a", n: 10, want: true}, {put: "b", n: 10, want: true}, {advance: 2 * time.Hour},
			{put: "c", n: 10, want: true},
		}, evicted: map[string]int{"expired": 2}, entries: 1, wantSize: size("c", 10)},
		{name: "replacing a key counts it once", max: 1 << 20, ops: []op{
			{put: "a", n: 10, want: true}, {put: "a", n: 20, want: true}, {get: "a", want: true},
		}, entries: 1, wantSize: size("a", 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1e9, 0)}
			c := newLRU(tt.max, time.Hour, clk.now)
			evicted := map[string]int{}
			c.evicted = func(reason string, _ int64) { evicted[reason]++ }
			var gaugeBytes int64
			c.stored = func(b int64, _ int) { gaugeBytes = b }
			for i, o := range tt.ops {
				switch {
				case o.put != "":
					if got := c.put(o.put, val(o.n)); got != o.want {
						t.Fatalf("op %d: put(%q, %d bytes) = %v, want %v", i, o.put, o.n, got, o.want)
					}
				case o.get != "":
					v, ok := c.get(o.get)
					if ok != o.want {
						t.Fatalf("op %d: get(%q) ok = %v, want %v", i, o.get, ok, o.want)
					}
					if ok && len(v) == 0 {
						t.Fatalf("op %d: get(%q) returned no value", i, o.get)
					}
				default:
					clk.advance(o.advance)
				}
			}
			if tt.evicted == nil {
				tt.evicted = map[string]int{}
			}
			for _, reason := range []string{"size", "expired"} {
				if evicted[reason] != tt.evicted[reason] {
					t.Errorf("evicted %v, want %v", evicted, tt.evicted)
					break
				}
			}
			entries, bytes := c.len()
			if tt.entries != 0 || tt.wantSize != 0 {
				if entries != tt.entries || bytes != tt.wantSize {
					t.Errorf("holds %d entries, %d bytes; want %d, %d", entries, bytes, tt.entries, tt.wantSize)
				}
			}
			if bytes > tt.max {
				t.Errorf("holds %d bytes, over its bound %d", bytes, tt.max)
			}
			if gaugeBytes != bytes {
				t.Errorf("reported %d bytes held, holds %d", gaugeBytes, bytes)
			}
		})
	}
}

func TestKeysDoNotCollide(t *testing.T) {
	k := func(fields ...string) string {
		h := newKey("tts", fields[0], fields[1])
		for _, f := range fields[2:] {
			h.str(f)
		}
		return h.sum("tts")
	}
	seen := map[string][]string{}
	for _, fields := range [][]string{
		{"", "flite", "", "16000/1", "Hello"},
		{"", "flite", "", "16000/1", "Hello."},
		{"", "flite", "slt", "16000/1", "Hello"},
		{"", "flit", "e", "16000/1", "Hello"},
		{"", "flite", "", "16000/1Hello", ""},
		{"v2", "flite", "", "16000/1", "Hello"},
		{"", "openai:tts-1", "alloy", "24000/1", "Hello"},
	} {
		key := k(fields...)
		if other, ok := seen[key]; ok {
			t.Errorf("%q and %q have the same key", fields, other)
		}
		seen[key] = fields
		if !strings.HasPrefix(key, "tts:") || len(key) != len("tts:")+64 {
			t.Errorf("key %q is not tts: and a SHA-256 in hex", key)
		}
	}
}
