package cache_test

import (
	"context"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/cache"
	"github.com/voicegate/voicegate/providers/fallback"
)

type blip struct {
	down  atomic.Bool
	calls atomic.Int32
}

func (b *blip) Name() string         { return "primary" }
func (b *blip) Format() audio.Format { return audio.Format{SampleRate: 16000, Channels: 1} }
func (b *blip) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	b.calls.Add(1)
	if b.down.Load() {
		return pipeline.ErrUnavailable
	}
	return emit(make([]int16, 320))
}

// TestFallbackOutputNotStored: the primary voice of a chain blips once;
// the backup's audio is passed on, not stored, so the primary speaks again
// once it is back (and what it says is stored then).
func TestFallbackOutputNotStored(t *testing.T) {
	p := &blip{}
	p.down.Store(true)
	chain, err := fallback.Synthesizer(zap.NewNop(), p, &pipelinetest.Tone{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cache.Synthesizer(chain, cache.DefaultConfig().TTS, cache.Options{Primary: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Synthesize(ctx, "Welcome to Acme.", func([]int16) error { return nil }); err != nil {
		t.Fatal(err)
	}
	p.down.Store(false)
	before := p.calls.Load()
	s.Synthesize(ctx, "Welcome to Acme.", func([]int16) error { return nil })
	if p.calls.Load() == before {
		t.Error("the primary is back, but the backup's audio was replayed from the cache")
	}
	before = p.calls.Load()
	s.Synthesize(ctx, "Welcome to Acme.", func([]int16) error { return nil })
	if p.calls.Load() != before {
		t.Error("the primary's own audio was not stored")
	}
}
