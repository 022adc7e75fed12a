package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/wav"
)

// read pulls n samples out of p as the device would.
func read(t *testing.T, p *Player, n int) []int16 {
	t.Helper()
	b := make([]byte, 2*n)
	if k, err := p.Read(b); k != len(b) || err != nil {
		t.Fatalf("Read = %d, %v; want %d, nil", k, err, len(b))
	}
	s, _ := audio.DecodePCM16(nil, b)
	return s
}

func ramp(n int, from int16) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = from + int16(i)
	}
	return s
}

func silent(s []int16) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestPlayerPrebuffersThenPlays(t *testing.T) {
	p := NewPlayer(1000, 50*time.Millisecond) // 50 samples of prebuffer
	if !silent(read(t, p, 10)) {
		t.Fatal("idle player is not silent")
	}
	var first uint64
	p.OnFirstSound = func(turn uint64, _ time.Time) { first = turn }
	p.Start(7)
	p.Push(ramp(30, 1))
	if !silent(read(t, p, 10)) {
		t.Fatal("played before the prebuffer filled")
	}
	p.Push(ramp(30, 31))
	got := read(t, p, 40)
	if got[0] != 1 || got[39] != 40 || first != 7 {
		t.Fatalf("got %v…%v, first sound of turn %d", got[0], got[39], first)
	}
	p.End()
	got = read(t, p, 40) // 20 left, then silence
	if got[0] != 41 || got[19] != 60 || !silent(got[20:]) {
		t.Fatalf("tail = %v", got)
	}
	if p.Busy() {
		t.Fatal("still busy after the turn played out")
	}
}

func TestPlayerUnderrunRebuffers(t *testing.T) {
	p := NewPlayer(1000, 20*time.Millisecond)
	p.Start(1)
	p.Push(ramp(20, 1))
	read(t, p, 30) // 20 samples, then an underrun
	if p.Underruns() != 1 {
		t.Fatalf("underruns = %d", p.Underruns())
	}
	p.Push(ramp(10, 21))
	if !silent(read(t, p, 10)) {
		t.Fatal("played before gathering the prebuffer again")
	}
	p.Push(ramp(10, 31))
	if got := read(t, p, 20); got[0] != 21 || got[19] != 40 {
		t.Fatalf("after the rebuffer: %v", got)
	}
}

func TestPlayerFlushCutsAndDropsStragglers(t *testing.T) {
	p := NewPlayer(1000, 10*time.Millisecond)
	p.Start(1)
	p.Push(ramp(100, 1))
	read(t, p, 10)
	p.Flush()
	p.Push(ramp(100, 1)) // frames of the cut turn still arriving
	if !silent(read(t, p, 50)) || p.Busy() {
		t.Fatal("audio after Flush")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPlayerRecordsTurnsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wav.NewWriter(f, audio.Format{SampleRate: 1000, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlayer(1000, 10*time.Millisecond)
	p.Record(w)
	read(t, p, 100) // silence before the turn: not recorded
	p.Start(1)
	p.Push(ramp(25, 1))
	p.End()
	read(t, p, 10)
	read(t, p, 100) // 15 samples, then the turn ends
	read(t, p, 100) // silence after: not recorded
	if err := p.StopRecording(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, _ = os.Open(path)
	defer f.Close()
	_, got, err := wav.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 || got[0] != 1 || got[24] != 25 {
		t.Fatalf("recorded %d samples: %v", len(got), got)
	}
}

func BenchmarkPlayerRead(b *testing.B) {
	p := NewPlayer(48000, 60*time.Millisecond)
	p.OnPlayed = func([]int16) {}
	buf := make([]byte, 1920)
	chunk := ramp(960, 0)
	p.Start(1)
	b.ReportAllocs()
	for b.Loop() {
		p.Push(chunk)
		_, _ = p.Read(buf)
	}
}
