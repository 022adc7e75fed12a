package conformance_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/conformance"
)

// fakeSynth conforms when zero; each field breaks one part of the contract.
type fakeSynth struct {
	badFormat      bool
	fail           error         // every call fails with it
	perRune        time.Duration // default 60ms
	silent         bool
	swallowEmitErr bool          // stops when emit fails, but returns nil
	deferEmitErr   bool          // keeps emitting after emit fails
	slowEmitErr    time.Duration // waits this long before returning emit's error
	ignoreCtx      bool
	slowCancel     time.Duration // waits this long before returning ctx's error
	emitCancelled  bool          // emits a chunk before looking at ctx
	nilCancelled   bool          // returns nil, silently, for a cancelled ctx
	busyErr        bool          // fails a call that overlaps another
	busyShort      bool          // makes half the audio for a call that overlaps another
	blankErr       bool

	busy sync.Mutex
}

func (f *fakeSynth) Format() audio.Format {
	if f.badFormat {
		return audio.Format{}
	}
	return audio.Mono16k
}

func (f *fakeSynth) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	short := false
	if f.busyErr || f.busyShort {
		// Hold the call long enough for concurrent callers to run into it.
		if f.busy.TryLock() {
			defer f.busy.Unlock()
			time.Sleep(300 * time.Millisecond)
		} else if f.busyErr {
			return errors.New("busy")
		} else {
			short = true
		}
	}
	if ctx.Err() != nil && f.nilCancelled {
		return nil
	}
	if !f.emitCancelled {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if f.fail != nil {
		return f.fail
	}
	if f.blankErr && strings.TrimSpace(text) == "" {
		return errors.New("nothing to say")
	}
	per := f.perRune
	if per == 0 {
		per = 60 * time.Millisecond
	}
	format := audio.Mono16k
	total := format.Samples(time.Duration(utf8.RuneCountInString(text)) * per)
	if short {
		total /= 2
	}
	buf := make([]int16, format.Samples(20*time.Millisecond))
	var emitErr error
	for n := 0; n < total; {
		k := min(len(buf), total-n)
		for i := range buf[:k] {
			if !f.silent {
				buf[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(n+i)/float64(format.SampleRate)))
			}
		}
		n += k
		if err := emit(buf[:k]); err != nil {
			switch {
			case f.swallowEmitErr:
				return nil
			case f.deferEmitErr:
				emitErr = firstErr(emitErr, err)
				continue
			default:
				time.Sleep(f.slowEmitErr)
				return err
			}
		}
		if err := ctx.Err(); err != nil && !f.ignoreCtx {
			time.Sleep(f.slowCancel)
			return err
		}
	}
	return emitErr
}

// firstErr returns the first non-nil error.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// fakeGen conforms when zero; each field breaks one part of the contract.
type fakeGen struct {
	fail           error
	silent         bool
	splitRunes     bool // emits a byte at a time
	mutate         bool // rewrites the user's message
	swallowEmitErr bool
	deferEmitErr   bool
	ignoreCtx      bool
	slowCancel     time.Duration
}

func (f *fakeGen) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail
	}
	if f.mutate {
		msgs[len(msgs)-1].Content = "something else"
	}
	if f.silent {
		return nil
	}
	const reply = "Sunny, 22 °C ☀️ and a light breeze."
	deltas := strings.SplitAfter(reply, " ")
	if f.splitRunes {
		deltas = deltas[:0]
		for i := range len(reply) {
			deltas = append(deltas, reply[i:i+1])
		}
	}
	var emitErr error
	for _, d := range deltas {
		if err := emit(d); err != nil {
			switch {
			case f.swallowEmitErr:
				return nil
			case f.deferEmitErr:
				emitErr = firstErr(emitErr, err)
				continue
			default:
				return err
			}
		}
		if err := ctx.Err(); err != nil && !f.ignoreCtx {
			time.Sleep(f.slowCancel)
			return err
		}
	}
	return emitErr
}

// check runs a suite and wants either no error (want empty) or one that
// names each of want.
func check(t *testing.T, suite func(context.Context) error, want []string) {
	t.Helper()
	err := suite(t.Context())
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("a conforming fake failed:\n%v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("passed; want failures %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not report %q:\n%v", w, err)
		}
	}
}

func TestSynthesizerSuite(t *testing.T) {
	tests := []struct {
		name string
		s    *fakeSynth
		want []string
	}{
		{"conforms", &fakeSynth{}, nil},
		{"bad format", &fakeSynth{badFormat: true}, []string{"TestSynthesizer: Format(): "}},
		{"always fails", &fakeSynth{fail: errors.New("engine down")}, []string{"TestSynthesizer/speaks: engine down", "TestSynthesizer/concurrent calls: engine down", "TestSynthesizer/blank text: blank text: engine down"}},
		{"too fast", &fakeSynth{perRune: 5 * time.Millisecond}, []string{"TestSynthesizer/speaks: ", "(5ms each)"}},
		{"too slow", &fakeSynth{perRune: 300 * time.Millisecond}, []string{"TestSynthesizer/speaks: ", "(300ms each)"}},
		{"silent", &fakeSynth{silent: true}, []string{"TestSynthesizer/speaks: only 0 of"}},
		{"swallows emit's error", &fakeSynth{swallowEmitErr: true}, []string{"TestSynthesizer/emit error stops it: Synthesize returned <nil>, want emit's error"}},
		{"emits after emit failed", &fakeSynth{deferEmitErr: true}, []string{"TestSynthesizer/emit error stops it: emit called"}},
		{"slow after emit failed", &fakeSynth{slowEmitErr: conformance.CancelWithin + 5*time.Second + 200*time.Millisecond}, []string{"TestSynthesizer/emit error stops it: took "}},
		{"ignores cancel", &fakeSynth{ignoreCtx: true}, []string{"TestSynthesizer/cancel stops it: Synthesize returned <nil>, want context.Canceled"}},
		{"slow to cancel", &fakeSynth{slowCancel: conformance.CancelWithin + 200*time.Millisecond}, []string{"TestSynthesizer/cancel stops it: returned ", " after the cancel"}},
		{"emits when cancelled", &fakeSynth{emitCancelled: true}, []string{"TestSynthesizer/cancel stops it: emit called 1 times with a cancelled context"}},
		{"no error when cancelled", &fakeSynth{nilCancelled: true}, []string{"TestSynthesizer/cancel stops it: a cancelled context gave no error"}},
		{"fails concurrent calls", &fakeSynth{busyErr: true}, []string{"TestSynthesizer/concurrent calls: busy"}},
		{"short concurrent calls", &fakeSynth{busyShort: true}, []string{"TestSynthesizer/concurrent calls: concurrent call made "}},
		{"fails on blank text", &fakeSynth{blankErr: true}, []string{"TestSynthesizer/blank text: blank text: nothing to say"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, func(ctx context.Context) error { return conformance.TestSynthesizer(ctx, tt.s) }, tt.want)
		})
	}
}

func TestGeneratorSuite(t *testing.T) {
	tests := []struct {
		name string
		g    *fakeGen
		want []string
	}{
		{"conforms", &fakeGen{}, nil},
		{"always fails", &fakeGen{fail: errors.New("model down")}, []string{"TestGenerator/streams whole runes: model down", "TestGenerator/emit error stops it: Generate returned model down", "TestGenerator/cancel stops it: no delta emitted (model down)"}},
		{"says nothing", &fakeGen{silent: true}, []string{"TestGenerator/streams whole runes: no reply (0 deltas)", "TestGenerator/cancel stops it: no delta emitted (<nil>)"}},
		{"splits runes", &fakeGen{splitRunes: true}, []string{"TestGenerator/streams whole runes: delta \"\\xc2\" splits a rune"}},
		{"modifies messages", &fakeGen{mutate: true}, []string{"TestGenerator/streams whole runes: Generate modified its messages"}},
		{"swallows emit's error", &fakeGen{swallowEmitErr: true}, []string{"TestGenerator/emit error stops it: Generate returned <nil>, want emit's error"}},
		{"emits after emit failed", &fakeGen{deferEmitErr: true}, []string{"TestGenerator/emit error stops it: emit called 8 times after it failed once"}},
		{"ignores cancel", &fakeGen{ignoreCtx: true}, []string{"TestGenerator/cancel stops it: Generate returned <nil>, want context.Canceled"}},
		{"slow to cancel", &fakeGen{slowCancel: conformance.CancelWithin + 200*time.Millisecond}, []string{"TestGenerator/cancel stops it: returned ", " after the cancel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, func(ctx context.Context) error { return conformance.TestGenerator(ctx, tt.g) }, tt.want)
		})
	}
}
