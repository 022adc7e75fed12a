package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"time"

	"github.com/voicegate/voicegate/pipeline"
)

// Name is the provider a turn served from a cache reports through
// pipeline.Answered: its trace and latency metrics say "cache".
const Name = "cache"

// Options are what a cache needs besides its settings.
type Options struct {
	// Variant is mixed into every key: the provider's settings as the
	// configuration gives them, so that a changed model, voice or speed
	// never replays audio made with the old ones (through Redis, across
	// a restart).
	Variant string
	// Primary, when the stage is a fallback chain, names its first
	// member: what another member answered (during the primary's outage)
	// is passed on but not stored, so that it is not replayed once the
	// primary is back.
	Primary string
	// Remote is the shared tier; nil keeps entries in process only.
	Remote  *Remote
	Metrics *Metrics         // nil counts nothing
	Now     func() time.Time // the clock of expiry; nil: time.Now
}

// tiers is one cache (kind "tts" or "llm"): the in-process LRU, then the
// shared tier.
type tiers struct {
	kind    string
	mem     *lru
	remote  *Remote
	ttl     time.Duration
	metrics *Metrics
}

func newTiers(kind string, maxBytes int64, ttl time.Duration, o Options) *tiers {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	t := &tiers{kind: kind, mem: newLRU(maxBytes, ttl, now), remote: o.Remote, ttl: ttl, metrics: o.Metrics}
	t.mem.evicted = func(reason string, _ int64) { o.Metrics.evict(kind, reason) }
	t.mem.stored = func(bytes int64, entries int) { o.Metrics.held(kind, bytes, entries) }
	return t
}

// get looks key up in process, then in the shared tier (keeping what it
// finds there in process too). valid checks a value from the shared
// tier, which another program could have written.
func (t *tiers) get(ctx context.Context, key string, valid func([]byte) bool) ([]byte, bool) {
	if v, ok := t.mem.get(key); ok {
		t.metrics.hit(t.kind, tierMemory)
		return v, true
	}
	if t.remote != nil {
		if v, ok := t.remote.get(ctx, t.kind, key); ok && valid(v) {
			t.metrics.hit(t.kind, tierRedis)
			if t.mem.put(key, v) {
				t.metrics.store(t.kind, tierMemory)
			}
			return v, true
		}
	}
	t.metrics.miss(t.kind)
	return nil, false
}

// put stores val in every tier; they keep it, so the caller must not
// modify it afterwards.
func (t *tiers) put(key string, val []byte) {
	if len(val) == 0 {
		t.metrics.skip(t.kind, skipEmpty)
		return
	}
	if !t.mem.put(key, val) {
		t.metrics.skip(t.kind, skipTooLarge)
		return
	}
	t.metrics.store(t.kind, tierMemory)
	if t.remote != nil {
		t.remote.set(t.kind, key, val, t.ttl)
	}
}

// keep stores val, what a provider made under key, when the call ended
// well: not cut (ctx done, or the caller's emit failed: out.err), not
// failed (err), and not unfit (a skip reason, or "").
func (t *tiers) keep(ctx context.Context, key string, val []byte, out emitFailure, err error, unfit string) {
	switch {
	case out.err != nil || ctx.Err() != nil:
		t.metrics.skip(t.kind, skipCut)
	case err != nil:
		t.metrics.skip(t.kind, skipFailed)
	case unfit != "":
		t.metrics.skip(t.kind, unfit)
	default:
		t.put(key, val)
	}
}

// emitFailure remembers whether the caller's emit failed.
type emitFailure struct{ err error }

// watch returns emit, noting its first error in f.
func watch[T any](f *emitFailure, emit func(T) error) func(T) error {
	return func(v T) error {
		err := emit(v)
		if err != nil && f.err == nil {
			f.err = err
		}
		return err
	}
}

// keyHash builds a key from fields, each written with its length so that
// no two lists of fields give the same bytes.
type keyHash struct{ h hash.Hash }

func newKey(kind, variant, provider string) keyHash {
	k := keyHash{sha256.New()}
	k.str(kind)
	k.str(variant)
	k.str(provider)
	return k
}

func (k keyHash) str(s string) {
	k.num(len(s))
	k.h.Write([]byte(s))
}

func (k keyHash) num(n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	k.h.Write(b[:])
}

// sum returns the key: kind, a colon and the digest in hex.
func (k keyHash) sum(kind string) string {
	return kind + ":" + hex.EncodeToString(k.h.Sum(nil))
}

// answeredBy runs call with a stage context of its own for stage st, to
// learn which provider answered (a fallback chain reports its member),
// passes that on to ctx's turn, and returns it ("" when none reported).
func answeredBy(ctx context.Context, st pipeline.Stage, call func(context.Context) error) (string, error) {
	var t pipeline.Turn
	err := call(t.StageContext(ctx, st))
	who := t.AnsweredBy(st)
	pipeline.Answered(ctx, who)
	return who, err
}

// fellBack reports whether a chain whose first member is primary was
// answered by another member.
func fellBack(primary, who string) bool {
	return primary != "" && who != "" && who != primary
}
