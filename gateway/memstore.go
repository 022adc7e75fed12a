package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MemoryStore is a SessionStore in this process's memory: the store of
// several Servers in one process, which then resume each other's
// sessions. It keeps at most NewMemoryStore's limit of records (claimed sessions' tombstones
// among them) and forgets each a ttl after its last save, as Redis does.
type MemoryStore struct {
	max int
	now func() time.Time

	mu   sync.Mutex
	recs map[[sha256.Size]byte]memRecord
}

type memRecord struct {
	owner   string
	data    []byte // the SessionRecord as JSON, so no caller shares it; nil for a tombstone
	expires time.Time
}

var _ SessionStore = (*MemoryStore)(nil)

// ErrStoreFull is returned by a MemoryStore's Save of a new session when it
// holds its maximum of records.
var ErrStoreFull = errors.New("gateway: memory session store full")

// NewMemoryStore returns an empty store of at most limit records (at least
// one), on the clock now (nil: time.Now).
func NewMemoryStore(limit int, now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{max: max(limit, 1), now: now, recs: make(map[[sha256.Size]byte]memRecord)}
}

// getLocked returns the live record under key.
func (m *MemoryStore) getLocked(key [sha256.Size]byte) (memRecord, bool) {
	r, ok := m.recs[key]
	if ok && !m.now().Before(r.expires) {
		delete(m.recs, key)
		return memRecord{}, false
	}
	return r, ok
}

// putLocked stores r under key, making room by forgetting expired records.
func (m *MemoryStore) putLocked(key [sha256.Size]byte, r memRecord) error {
	if _, ok := m.recs[key]; !ok && len(m.recs) >= m.max {
		now := m.now()
		for k, old := range m.recs {
			if !now.Before(old.expires) {
				delete(m.recs, k)
			}
		}
		if len(m.recs) >= m.max {
			return ErrStoreFull
		}
	}
	m.recs[key] = r
	return nil
}

// Save implements SessionStore.
func (m *MemoryStore) Save(ctx context.Context, key [sha256.Size]byte, rec *SessionRecord, ttl time.Duration) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("gateway: encode session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.getLocked(key); ok && r.data == nil {
		return ErrSessionMoved
	}
	return m.putLocked(key, memRecord{owner: rec.Owner, data: data, expires: m.now().Add(ttl)})
}

// Claim implements SessionStore.
func (m *MemoryStore) Claim(ctx context.Context, key, next [sha256.Size]byte, who string, ttl time.Duration) (*SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.getLocked(key)
	switch {
	case ok && r.data == nil:
		return nil, ErrSessionMoved
	case !ok || r.owner != who:
		return nil, ErrNoSession
	}
	var rec SessionRecord
	if err := json.Unmarshal(r.data, &rec); err != nil {
		return nil, fmt.Errorf("gateway: decode session: %w", err)
	}
	expires := m.now().Add(ttl)
	if err := m.putLocked(next, memRecord{owner: r.owner, data: r.data, expires: expires}); err != nil {
		return nil, err
	}
	m.recs[key] = memRecord{expires: expires}
	return &rec, nil
}

// Owner implements SessionStore.
func (m *MemoryStore) Owner(ctx context.Context, key [sha256.Size]byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.getLocked(key)
	if !ok || r.data == nil {
		return "", ErrNoSession
	}
	return r.owner, nil
}

// Ping implements SessionStore: memory always answers.
func (m *MemoryStore) Ping(context.Context) error { return nil }
