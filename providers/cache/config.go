// Package cache keeps what a provider made, to serve it again without
// asking: the audio of sentences a voice says over and over (greetings,
// fixed prompts, the words around a tool call) and, opt-in, the language
// model's answer to a conversation it has seen word for word.
//
// Synthesizer and Generator wrap a stage's provider (or fallback chain), as
// providers/fallback wraps its members. Entries live in an in-process LRU
// bounded by bytes, with a TTL; a Remote (Redis, through the small Store
// interface) is an optional second tier that every gateway shares. Keys are
// SHA-256 digests of what decides the output: the provider's name and
// settings, the voice, the audio format and the text, or the whole prompt
// and its tools. Nothing that was cut is kept: an entry is stored only when
// the provider finished on its own, without error, cancellation or a
// failed emit.
//
// A wrapper keeps its provider's Name, so the session and the logs name the
// engine; a turn served from the cache reports Name ("cache") through
// pipeline.Answered, so its trace and latency metrics say where the answer
// came from. A miss reports nothing of its own: a fallback chain inside
// still names its member.
package cache

import (
	"errors"
	"fmt"
	"time"
)

// Config is the cache: section of the configuration. The zero value caches
// nothing; DefaultConfig is what a configuration starts from.
type Config struct {
	TTS   TTSConfig   `yaml:"tts"`
	LLM   LLMConfig   `yaml:"llm"`
	Redis RedisConfig `yaml:"redis"`
}

// TTSConfig bounds the cache of synthesized sentences.
type TTSConfig struct {
	// Enabled wraps the TTS stage in the cache. Default true.
	Enabled bool `yaml:"enabled"`
	// MaxBytes bounds the audio kept in process (PCM16, keys included);
	// the least recently used sentence goes first. Default 64 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxEntry is the longest sentence kept, as audio; longer ones are
	// spoken and not stored. Default 30s.
	MaxEntry time.Duration `yaml:"max_entry"`
	// TTL is how long a sentence is served from the cache after it was
	// made, in process and in Redis (one fetched from Redis is kept in
	// process for a TTL from then). A hit does not extend it. Default 24h.
	TTL time.Duration `yaml:"ttl"`
}

// LLMConfig bounds the cache of language model answers.
type LLMConfig struct {
	// Enabled wraps the LLM stage in the cache: a conversation identical
	// to one answered before (system prompt, every message, the tools
	// offered) gets the same answer again, without the model. Default
	// false: a model that samples would have answered differently.
	Enabled bool `yaml:"enabled"`
	// MaxBytes bounds the answers kept in process. Default 8 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxEntryBytes is the longest answer kept. Default 64 KiB.
	MaxEntryBytes int64 `yaml:"max_entry_bytes"`
	// TTL is how long an answer is served from the cache. Default 1h.
	TTL time.Duration `yaml:"ttl"`
}

// RedisConfig is the shared tier.
type RedisConfig struct {
	// URL of the Redis server, e.g. redis://:password@10.0.0.5:6379/0;
	// rediss:// for TLS. Empty: no shared tier. It may hold a password:
	// prefer the environment (VOICEGATE_CACHE_REDIS_URL).
	URL string `yaml:"url"`
	// Timeout bounds each read and write. A read that fails or takes
	// longer is a miss, and the tier is left alone for a second. Default
	// 100ms.
	Timeout time.Duration `yaml:"timeout"`
	// Prefix begins every key, so that a Redis shared with other programs
	// keeps them apart. Default "voicegate:cache:".
	Prefix string `yaml:"prefix"`
}

// DefaultConfig returns the defaults: sentences cached in process, answers
// not, no Redis.
func DefaultConfig() Config {
	return Config{
		TTS: TTSConfig{Enabled: true, MaxBytes: 64 << 20, MaxEntry: 30 * time.Second, TTL: 24 * time.Hour},
		LLM: LLMConfig{Enabled: false, MaxBytes: 8 << 20, MaxEntryBytes: 64 << 10, TTL: time.Hour},
		Redis: RedisConfig{
			Timeout: 100 * time.Millisecond,
			Prefix:  "voicegate:cache:",
		},
	}
}

// Validate reports every setting out of range, each by its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.TTS.Enabled {
		if c.TTS.MaxBytes <= 0 {
			bad("cache.tts.max_bytes must be positive (bytes of audio kept), e.g. 67108864 for 64 MiB")
		}
		if c.TTS.MaxEntry <= 0 {
			bad("cache.tts.max_entry must be positive, e.g. 30s")
		}
		if c.TTS.TTL <= 0 {
			bad("cache.tts.ttl must be positive, e.g. 24h")
		}
	}
	if c.LLM.Enabled {
		if c.LLM.MaxBytes <= 0 {
			bad("cache.llm.max_bytes must be positive, e.g. 8388608 for 8 MiB")
		}
		if c.LLM.MaxEntryBytes <= 0 || c.LLM.MaxEntryBytes > c.LLM.MaxBytes {
			bad("cache.llm.max_entry_bytes must be positive and at most cache.llm.max_bytes")
		}
		if c.LLM.TTL <= 0 {
			bad("cache.llm.ttl must be positive, e.g. 1h")
		}
	}
	if c.Redis.URL != "" {
		if c.Redis.Timeout <= 0 {
			bad("cache.redis.timeout must be positive, e.g. 100ms")
		}
		if _, err := redisOptions(c.Redis); err != nil {
			bad("cache.redis.url: %v", err)
		}
	}
	return errors.Join(errs...)
}
