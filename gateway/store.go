package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// SessionStore is where a gateway keeps its /ws sessions for a resume on
// any node: a store shared by every node behind one load balancer (Redis,
// package gateway/redisstore). The node that serves a session saves it
// when it starts, at the end of each turn and when its connection ends,
// so a node that dies loses at most the turn in progress; a node that is
// shown a resume token it does not hold claims the session from the store.
// The live part of a session (its connection, superseding it on the same
// node) stays in the node's memory.
//
// A key is the SHA-256 digest of a resume token: a store never sees a
// token. ttl is the resume window: a record not saved again within it is
// forgotten. Every method may be called concurrently, and is bound by ctx.
// No method retains rec or the records it returns.
type SessionStore interface {
	// Save writes rec under key, for ttl. It fails with ErrSessionMoved,
	// and writes nothing, when the session under key has been claimed
	// since: its token rotated on some node, which serves it now.
	Save(ctx context.Context, key [sha256.Size]byte, rec *SessionRecord, ttl time.Duration) error
	// Claim moves the record under key to next, for ttl, and returns it,
	// if its owner is who. It is atomic: of any number of claims of one
	// key, on any nodes, at most one succeeds. It fails with
	// ErrSessionMoved for a key claimed before, and ErrNoSession for an
	// unknown or expired key or another principal's session, whose
	// record stays as it was.
	Claim(ctx context.Context, key, next [sha256.Size]byte, who string, ttl time.Duration) (*SessionRecord, error)
	// Owner returns the principal of the session under key, or
	// ErrNoSession. It claims nothing.
	Owner(ctx context.Context, key [sha256.Size]byte) (string, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
}

// Errors a SessionStore returns; anything else is the store failing.
var (
	ErrNoSession    = errors.New("gateway: no such session in the store")
	ErrSessionMoved = errors.New("gateway: session claimed by another connection")
)
