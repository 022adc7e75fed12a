package main

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Dist summarises a sample of durations, in milliseconds.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// samples collects durations from many goroutines. It is for per-turn
// figures (a few per session per minute), not per-frame ones: see lagHist.
type samples struct {
	mu sync.Mutex
	ms []float64
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.ms = append(s.ms, float64(d)/float64(time.Millisecond))
	s.mu.Unlock()
}

func (s *samples) addMS(v float64) {
	s.mu.Lock()
	s.ms = append(s.ms, v)
	s.mu.Unlock()
}

// since returns the distribution of the samples from the i-th on, and how
// many there are.
func (s *samples) since(i int) (Dist, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := append([]float64(nil), s.ms[min(i, len(s.ms)):]...)
	return distOf(v), len(v)
}

func (s *samples) dist() Dist {
	s.mu.Lock()
	defer s.mu.Unlock()
	return distOf(s.ms)
}

// distOf returns nearest-rank percentiles of v (which it sorts).
func distOf(v []float64) Dist {
	if len(v) == 0 {
		return Dist{}
	}
	slices.Sort(v)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(v)))) - 1
		return v[max(i, 0)]
	}
	return Dist{N: len(v), P50: rank(.50), P95: rank(.95), P99: rank(.99), Max: v[len(v)-1]}
}

// lagHist is a fixed-bucket histogram of send lateness: 10 µs buckets up to
// 100 ms, 1 ms buckets up to 10 s, then one overflow bucket. Adding
// allocates nothing; one goroutine owns each lagHist, and merge combines
// them afterwards.
type lagHist struct {
	buckets [lagBuckets + 1]uint64
	n       uint64
	late    uint64 // frames sent a whole frame (20 ms) or more after their due time
	max     time.Duration
}

const (
	lagFine     = 10 * time.Microsecond
	lagFineTo   = 100 * time.Millisecond
	lagCoarse   = time.Millisecond
	lagCoarseTo = 10 * time.Second
	lagFineN    = int(lagFineTo / lagFine)
	lagBuckets  = lagFineN + int((lagCoarseTo-lagFineTo)/lagCoarse)
)

func lagBucket(d time.Duration) int {
	if d < lagFineTo {
		return int(d / lagFine)
	}
	return min(lagFineN+int((d-lagFineTo)/lagCoarse), lagBuckets)
}

// lagUpper is the upper edge of bucket i.
func lagUpper(i int) time.Duration {
	if i < lagFineN {
		return time.Duration(i+1) * lagFine
	}
	return lagFineTo + time.Duration(i-lagFineN+1)*lagCoarse
}

func (h *lagHist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.buckets[lagBucket(d)]++
	h.n++
	if d >= frameDur {
		h.late++
	}
	if d > h.max {
		h.max = d
	}
}

func (h *lagHist) merge(o *lagHist) {
	for i, c := range o.buckets {
		h.buckets[i] += c
	}
	h.n += o.n
	h.late += o.late
	h.max = max(h.max, o.max)
}

// dist reports each percentile as the upper edge of its bucket.
func (h *lagHist) dist() Dist {
	if h.n == 0 {
		return Dist{}
	}
	q := func(p float64) float64 {
		want := uint64(math.Ceil(p * float64(h.n)))
		var seen uint64
		for i, c := range h.buckets {
			seen += c
			if seen >= want && c > 0 {
				if i == lagBuckets {
					return float64(h.max) / float64(time.Millisecond)
				}
				return float64(min(lagUpper(i), h.max)) / float64(time.Millisecond)
			}
		}
		return float64(h.max) / float64(time.Millisecond)
	}
	return Dist{N: int(h.n), P50: q(.50), P95: q(.95), P99: q(.99), Max: float64(h.max) / float64(time.Millisecond)}
}
