package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
)

// Redis is a Store on a Redis server, every key under its prefix.
type Redis struct {
	client *redis.Client
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns the Store c describes. It does not connect until the
// first call, so a server that is down at start-up is a miss, not a
// failed start.
func NewRedis(c RedisConfig) (*Redis, error) {
	opt, err := redisOptions(c)
	if err != nil {
		return nil, fmt.Errorf("cache.redis.url: %w", err)
	}
	return &Redis{client: redis.NewClient(opt), prefix: c.Prefix}, nil
}

// redisOptions parses c.URL. Its error never repeats the URL, which may
// hold a password.
func redisOptions(c RedisConfig) (*redis.Options, error) {
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), c.URL, "<url>")
		if i := strings.Index(c.URL, "@"); i > 0 {
			msg = strings.ReplaceAll(msg, c.URL[:i], "<credentials>")
		}
		return nil, errors.New(msg + " (want redis://[:password@]host:port[/db] or rediss://…)")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 100 * time.Millisecond
	}
	opt.ReadTimeout, opt.WriteTimeout = timeout, timeout
	opt.DialTimeout = max(timeout, time.Second)
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1 // the caller's timeout is the budget: a miss beats a late hit
	opt.DialerRetries = 1
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opt, nil
}

// Get returns the value under the prefixed key.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis get: %w", err)
	}
	return b, true, nil
}

// Set stores val under the prefixed key, expiring after ttl.
func (r *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := r.client.Set(ctx, r.prefix+key, val, ttl).Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

// SetRedisLogger routes the Redis client's own messages (a failed dial,
// a broken connection: one per call while the server is down) to log at
// Debug level; the cache's warnings, at most one a minute, say the same at
// Warn. The client library has one logger per process: call this once, from
// the program's start.
func SetRedisLogger(log *zap.Logger) {
	redis.SetLogger(redisLogger{log.WithOptions(zap.AddCallerSkip(1))})
}

type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, args ...any) {
	if ce := l.log.Check(zap.DebugLevel, "redis client"); ce != nil {
		ce.Write(zap.String("message", fmt.Sprintf(format, args...)))
	}
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }
