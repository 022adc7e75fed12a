package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/pipeline"
)

// prewarmTimeout bounds how long start-up waits for the providers' warm
// connections. A TLS handshake with a distant provider takes well under a
// second; one that is not done by then is not worth delaying the start for.
const prewarmTimeout = 3 * time.Second

// prewarmer is a provider that can open its connections before its first
// call, so that the first turn does not pay for the TCP and TLS handshakes:
// the HTTP providers (providers/httpx) and fallback chains of them.
type prewarmer interface {
	Prewarm(ctx context.Context) error
}

// prewarm calls Prewarm on every stage that has it, all at once, and waits
// for them up to prewarmTimeout. It logs one line per provider with how long
// it took. A failure is logged, not returned: the provider may be back by
// the first turn, and its retries and breaker deal with it if not.
func prewarm(ctx context.Context, log *zap.Logger, stages ...any) {
	ctx, cancel := context.WithTimeout(ctx, prewarmTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range stages {
		p, ok := s.(prewarmer)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := p.Prewarm(ctx)
			fields := append(describe(s), zap.Duration("took", time.Since(start)))
			if err != nil {
				log.Warn("provider not prewarmed; its first call will connect", append(fields, zap.Error(err))...)
				return
			}
			log.Info("provider prewarmed", fields...)
		}()
	}
	wg.Wait()
}

// describe names a stage for the log: its stage and its provider (for a
// fallback chain, its members' names joined by ">").
func describe(v any) []zap.Field {
	var stage string
	switch v.(type) {
	case pipeline.Recognizer:
		stage = "asr"
	case pipeline.Generator:
		stage = "llm"
	case pipeline.Synthesizer:
		stage = "tts"
	default:
		stage = fmt.Sprintf("%T", v)
	}
	return []zap.Field{zap.String("stage", stage), zap.String("provider", pipeline.NameOf(v))}
}
