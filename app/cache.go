package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/providers/cache"
)

// withCaches puts the configured caches in front of b's stages: the TTS
// stage's (cache.tts.enabled) and the LLM stage's (cache.llm.enabled),
// each with its own collectors on reg and, with cache.redis.url, the
// shared Redis tier, which b then closes.
func withCaches(b *built, cfg configs.Config, reg prometheus.Registerer, log *zap.Logger) error {
	c := cfg.Cache
	if !c.TTS.Enabled && !c.LLM.Enabled {
		return nil
	}
	m, err := cache.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("cache metrics: %w", err)
	}
	var remote *cache.Remote
	if c.Redis.URL != "" {
		cache.SetRedisLogger(log.Named("redis"))
		store, err := cache.NewRedis(c.Redis)
		if err != nil {
			return err
		}
		remote = cache.NewRemote(store, cache.RemoteOptions{Timeout: c.Redis.Timeout, Log: log, Metrics: m})
		b.closers = append(b.closers, remote)
	}
	opts := func(name string, stage []configs.Provider) (cache.Options, error) {
		v, err := variant(stage)
		return cache.Options{Variant: v, Primary: b.primary[name], Remote: remote, Metrics: m}, err
	}
	if c.TTS.Enabled {
		o, err := opts("tts", cfg.Providers.TTS)
		if err != nil {
			return err
		}
		if b.stages.TTS, err = cache.Synthesizer(b.stages.TTS, c.TTS, o); err != nil {
			return err
		}
	}
	if c.LLM.Enabled {
		o, err := opts("llm", cfg.Providers.LLM)
		if err != nil {
			return err
		}
		if b.stages.LLM, err = cache.Generator(b.stages.LLM, c.LLM, o); err != nil {
			return err
		}
	}
	log.Info("caches ready", zap.Bool("tts", c.TTS.Enabled), zap.Bool("llm", c.LLM.Enabled), zap.Bool("redis", remote != nil))
	return nil
}

// variant digests a stage's provider entries, each kind with its settings
// in a canonical form (sorted keys, no comments), so that a cache's keys
// change with any setting that may change the output (a model, a voice, a
// speed) and stay the same across gateways configured alike.
func variant(stage []configs.Provider) (string, error) {
	h := sha256.New()
	for _, p := range stage {
		var settings map[string]any
		if err := p.Decode(&settings); err != nil {
			return "", err
		}
		b, err := yaml.Marshal(settings)
		if err != nil {
			return "", fmt.Errorf("provider %q: %w", p.Name, err)
		}
		fmt.Fprintf(h, "%d:%s%d:%s", len(p.Name), p.Name, len(b), b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
