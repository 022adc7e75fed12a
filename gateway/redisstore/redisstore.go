// Package redisstore keeps a gateway's sessions in Redis, so that N gateway
// nodes behind one load balancer resume each other's sessions: it is the
// gateway.SessionStore of store.kind redis. It is also their
// gateway.ClusterCounter, which shares the per-key limits (cluster.go).
//
// Each session is one hash under KeyPrefix+"session:"+base64url(digest of
// its resume token), with the fields owner (its principal) and data (the
// gateway.SessionRecord as JSON), expiring one resume window after its last
// save. A claim is one Lua script, so it is atomic on the server: it
// renames the session to the rotated token's key and leaves a tombstone
// (the field moved) under the old one for a window, so that of two nodes
// racing for one token exactly one wins, and a node still saving under the
// old key learns that the session has moved. Scripts are sent by digest,
// and again in full when a restarted Redis has forgotten them.
//
// Redis Cluster is not supported: a claim touches two keys.
package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/voicegate/voicegate/gateway"
)

// Config is the store.redis: section of voicegate's configuration file,
// where every key is documented (configs/voicegate.example.yaml). A zero
// field takes its value from DefaultConfig.
type Config struct {
	// URL is the server: redis://[user:password@]host:port[/db], or
	// rediss:// for TLS (then the system's roots, or CAFile, verify the
	// server). The password is a secret: it is never logged.
	URL string `yaml:"url"`
	// CAFile is a PEM file of the CAs that verify a rediss:// server,
	// in place of the system's roots.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds dialing and each command.
	Timeout time.Duration `yaml:"timeout"`
	// KeyPrefix starts every key this store writes, so that several
	// deployments can share one Redis.
	KeyPrefix string `yaml:"key_prefix"`
	// LocalLimits makes each node enforce server.max_sessions_per_key and
	// server.session_rate alone. Default false: the nodes share them
	// through this store (gateway.ClusterCounter).
	LocalLimits bool `yaml:"local_limits"`
}

// DefaultConfig returns the defaults: no URL, a 2 s timeout, keys under
// "voicegate:".
func DefaultConfig() Config {
	return Config{Timeout: 2 * time.Second, KeyPrefix: "voicegate:"}
}

// MaxRecordBytes caps a session record read back from Redis; the
// conversation caps (session.max_history, max_history_bytes) keep the
// records a gateway writes far below it.
const MaxRecordBytes = 8 << 20

// Validate reports what is wrong with c, naming the keys to change.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("store.redis.url is required with store.kind redis"))
	case err != nil:
		// The URL may hold a password: the parse error, which quotes
		// it, is not passed on.
		errs = append(errs, errors.New("store.redis.url is not a URL"))
	case u.Scheme != "redis" && u.Scheme != "rediss":
		errs = append(errs, fmt.Errorf("store.redis.url: scheme %q; want redis:// or rediss://", u.Scheme))
	case c.CAFile != "" && u.Scheme != "rediss":
		errs = append(errs, errors.New("store.redis.ca_file is set but store.redis.url is not rediss://: the CA would verify nothing"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("store.redis.timeout %s is negative", c.Timeout))
	}
	return errors.Join(errs...)
}

// Store is a gateway.SessionStore in Redis. Its methods are safe for
// concurrent use.
type Store struct {
	client *redis.Client
	prefix string
}

var _ gateway.SessionStore = (*Store)(nil)

// New connects lazily: it dials nothing, so a gateway starts while Redis is
// down and is degraded until it answers.
func New(cfg Config) (*Store, error) {
	d := DefaultConfig()
	if cfg.Timeout == 0 {
		cfg.Timeout = d.Timeout
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = d.KeyPrefix
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: store.redis.url: %w", err)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redisstore: store.redis.ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redisstore: store.redis.ca_file %s holds no PEM certificate", cfg.CAFile)
		}
		if opts.TLSConfig == nil {
			opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts.TLSConfig.RootCAs = roots
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = cfg.Timeout, cfg.Timeout, cfg.Timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1 // a command is bounded by its context; an outage is reported, not waited out
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Store{client: redis.NewClient(opts), prefix: cfg.KeyPrefix}, nil
}

// Close closes the connections to Redis.
func (s *Store) Close() error { return s.client.Close() }

func (s *Store) key(digest [sha256.Size]byte) string {
	return s.prefix + "session:" + base64.RawURLEncoding.EncodeToString(digest[:])
}

// saveScript writes a session unless its key is a claimed one's tombstone.
// KEYS[1] the key; ARGV owner, data, ttl in ms.
var saveScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'moved') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// claimScript moves a session of ARGV[1] from KEYS[1] to KEYS[2], leaving a
// tombstone; ARGV[2] is the ttl in ms of both.
var claimScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then
  if redis.call('HEXISTS', KEYS[1], 'moved') == 1 then return {'moved'} end
  return {'none'}
end
if owner ~= ARGV[1] then return {'none'} end
local data = redis.call('HGET', KEYS[1], 'data')
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'moved', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'owner', owner, 'data', data)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {'ok', data}
`)

// Save implements gateway.SessionStore.
func (s *Store) Save(ctx context.Context, key [sha256.Size]byte, rec *gateway.SessionRecord, ttl time.Duration) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("redisstore: encode session: %w", err)
	}
	n, err := saveScript.Run(ctx, s.client, []string{s.key(key)}, rec.Owner, data, ms(ttl)).Int()
	if err != nil {
		return fmt.Errorf("redisstore: save: %w", err)
	}
	if n == 0 {
		return gateway.ErrSessionMoved
	}
	return nil
}

// Claim implements gateway.SessionStore.
func (s *Store) Claim(ctx context.Context, key, next [sha256.Size]byte, who string, ttl time.Duration) (*gateway.SessionRecord, error) {
	res, err := claimScript.Run(ctx, s.client, []string{s.key(key), s.key(next)}, who, ms(ttl)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: claim: %w", err)
	}
	switch {
	case len(res) == 2 && res[0] == "ok":
	case len(res) == 1 && res[0] == "moved":
		return nil, gateway.ErrSessionMoved
	case len(res) == 1 && res[0] == "none":
		return nil, gateway.ErrNoSession
	default:
		return nil, fmt.Errorf("redisstore: claim: unexpected answer of %d values", len(res))
	}
	if len(res[1]) > MaxRecordBytes {
		return nil, fmt.Errorf("redisstore: claim: record of %d bytes, above %d", len(res[1]), MaxRecordBytes)
	}
	var rec gateway.SessionRecord
	if err := json.Unmarshal([]byte(res[1]), &rec); err != nil {
		return nil, fmt.Errorf("redisstore: claim: decode session: %w", err)
	}
	return &rec, nil
}

// Owner implements gateway.SessionStore.
func (s *Store) Owner(ctx context.Context, key [sha256.Size]byte) (string, error) {
	owner, err := s.client.HGet(ctx, s.key(key), "owner").Result()
	if errors.Is(err, redis.Nil) {
		return "", gateway.ErrNoSession
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: owner: %w", err)
	}
	return owner, nil
}

// Ping implements gateway.SessionStore.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// ms is d in whole milliseconds, at least one (PEXPIRE 0 deletes the key).
func ms(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}
