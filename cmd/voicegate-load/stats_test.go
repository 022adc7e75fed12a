package main

import (
	"testing"
	"time"
)

func TestDistOf(t *testing.T) {
	v := make([]float64, 0, 100)
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	got := distOf(v)
	want := Dist{N: 100, P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("distOf = %+v, want %+v", got, want)
	}
	if (distOf(nil) != Dist{}) {
		t.Fatal("distOf(nil) is not zero")
	}
}

func TestLagHist(t *testing.T) {
	var a, b lagHist
	for i := range 99 {
		a.add(time.Duration(i) * time.Microsecond) // 0..98 µs
	}
	b.add(25 * time.Millisecond)
	b.add(1500 * time.Millisecond) // a coarse bucket
	b.add(time.Minute)             // overflow
	a.merge(&b)
	d := a.dist()
	if d.N != 102 || d.P50 != 0.06 || d.Max != 60000 || a.late != 3 {
		t.Fatalf("dist = %+v late %d", d, a.late)
	}
	if d.P95 != 0.1 || d.P99 != 1501 {
		t.Fatalf("p95, p99 = %v, %v; want 0.1, 1501 (bucket upper edges)", d.P95, d.P99)
	}
}

func BenchmarkLagHistAdd(b *testing.B) {
	var h lagHist
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.add(time.Duration(i%5000) * time.Microsecond)
	}
}
