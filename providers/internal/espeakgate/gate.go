// Package espeakgate guards the one eSpeak NG in the process, the copy built
// into sherpa-onnx's shared library, which two providers use: tts/espeakng
// synthesises with it, and tts/piper's engines phonemise with it (inside
// sherpa-onnx's Generate). eSpeak NG keeps everything in globals (data,
// current voice, rate, translator state), so its users take turns here:
//
//   - Exclusive is for a user that changes those globals or synthesises
//     (espeakng; a piper engine being created, which may initialise eSpeak NG).
//     It also reports whether anyone else held the gate since this user's
//     last turn, so that the user knows to set its voice and parameters again.
//   - Shared is for users whose eSpeak NG calls sherpa-onnx already
//     serialises among themselves (a piper engine's generation). Shared
//     holders run alongside each other, never alongside an Exclusive one.
//
// Waiting is first come, first served between the two kinds: a waiting
// Exclusive user holds back later Shared ones, so neither kind starves.
// The gate is process-wide because eSpeak NG is.
package espeakgate

import (
	"context"
	"sync"
)

// DataDir is Debian's espeak-ng-data (package espeak-ng-data): the phoneme
// tables and dictionaries both users load. eSpeak NG holds one data
// directory per process; its last initialisation sets it.
const DataDir = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"

// User identifies one user of eSpeak NG's state across its turns.
type User struct{ _ byte }

// gate is the process's one gate: eSpeak NG's state is process-wide.
var gate = newGate()

type state struct {
	mu       sync.Mutex
	shared   int  // Shared holders
	sole     bool // an Exclusive holder
	queued   int  // Exclusive users waiting
	last     *User
	released chan struct{} // closed and replaced whenever the state changes
}

func newGate() *state { return &state{released: make(chan struct{})} }

// changed wakes every waiter. The caller holds mu.
func (g *state) changed() {
	close(g.released)
	g.released = make(chan struct{})
}

// Exclusive waits until u has eSpeak NG to itself, or ctx is done. intact
// reports that nobody else held the gate since u's last turn, so eSpeak
// NG's voice and parameters are as u left them. Call release exactly once.
func Exclusive(ctx context.Context, u *User) (release func(), intact bool, err error) {
	return gate.exclusive(ctx, u)
}

// Shared waits until u may use eSpeak NG alongside other Shared users, or
// ctx is done. Call release exactly once.
func Shared(ctx context.Context, u *User) (release func(), err error) {
	return gate.share(ctx, u)
}

func (g *state) exclusive(ctx context.Context, u *User) (func(), bool, error) {
	g.mu.Lock()
	g.queued++
	for g.sole || g.shared > 0 {
		wake := g.released
		g.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			g.mu.Lock()
			g.queued--
			g.changed()
			g.mu.Unlock()
			return nil, false, ctx.Err()
		}
		g.mu.Lock()
	}
	g.queued--
	g.sole = true
	intact := g.last == u
	g.last = u
	g.mu.Unlock()
	return g.releaser(func() { g.sole = false }), intact, nil
}

func (g *state) share(ctx context.Context, u *User) (func(), error) {
	g.mu.Lock()
	for g.sole || g.queued > 0 {
		wake := g.released
		g.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		g.mu.Lock()
	}
	g.shared++
	g.last = u
	g.mu.Unlock()
	return g.releaser(func() { g.shared-- }), nil
}

// releaser returns a release function that undoes a turn once.
func (g *state) releaser(undo func()) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			undo()
			g.changed()
			g.mu.Unlock()
		})
	}
}
