package gateway

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// sessionState is what survives a dropped connection: the conversation,
// the settings a resumed session gets back, and who it belongs to.
type sessionState struct {
	id       string
	owner    principal // who created it; only they can resume it
	conv     *pipeline.Conversation
	input    audio.Format
	output   audio.Format
	textOnly bool
	language string      // its key in Options.langs
	tools    clientTools // the client's tools and their calls awaiting results
	// rt is a /v1/realtime session's own state (realtime_state.go); nil
	// for /ws. A session is resumed only on the endpoint that made it.
	rt *rtState

	// Guarded by sessionStore.mu.
	key      [sha256.Size]byte // digest of the current resume token
	conn     *connection       // attached connection; nil while detached
	detached time.Time
	elem     *list.Element // in sessionStore.idle while detached
}

// sessionStore indexes sessions by the digest of their resume token, so a
// lookup compares digests, never the token itself. A detached session
// older than the window is refused on lookup; the detached ones are kept
// oldest first, capped and expired as detached.go says. No goroutine runs
// per idle session.
type sessionStore struct {
	window      time.Duration
	maxDetached int              // 0: no cap
	clock       func() time.Time // for the expiry timer
	hooks       storeHooks

	mu      sync.Mutex
	byKey   map[[sha256.Size]byte]*sessionState
	idle    list.List   // of *sessionState, detached, oldest first
	timer   *time.Timer // expires the front of idle; nil when none runs
	timerWG sync.WaitGroup
	stopped bool
}

func newSessionStore(window time.Duration) *sessionStore {
	return &sessionStore{window: window, clock: time.Now, byKey: make(map[[sha256.Size]byte]*sessionState)}
}

// randomToken returns n random bytes, base64url-encoded.
// resumeTokenBytes is a resume token's randomness; resumeTokenLen its
// length as text.
const (
	resumeTokenBytes = 32
	resumeTokenLen   = (resumeTokenBytes*8 + 5) / 6
)

// couldBeResumeToken reports whether tok has a resume token's shape: a
// token that cannot be one is refused without asking the store.
func couldBeResumeToken(tok string) bool {
	if len(tok) != resumeTokenLen {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create registers st attached to c and returns its resume token (256 bits).
func (s *sessionStore) create(st *sessionState, c *connection, now time.Time) string {
	token := randomToken(resumeTokenBytes)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	st.key = sha256.Sum256([]byte(token))
	st.conn = c
	s.byKey[st.key] = st
	s.changedLocked()
	return token
}

// resume attaches the session holding token to c, which acts for who. It
// returns the session, a fresh token (the old one stops working) and the
// connection the session was attached to, if any, which the caller must
// close as superseded. ok is false for an unknown or expired token, and for
// a session that belongs to another principal, whose token stays as it was:
// a token alone does not let one key take over another key's conversation.
func (s *sessionStore) resume(token string, who principal, c *connection, now time.Time) (st *sessionState, newToken string, prev *connection, ok bool) {
	return s.resumeTo(token, randomToken(resumeTokenBytes), who, c, now)
}

// resumeTo is resume with the new token given: fresh.
func (s *sessionStore) resumeTo(token, fresh string, who principal, c *connection, now time.Time) (st *sessionState, newToken string, prev *connection, ok bool) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	st, ok = s.byKey[key]
	if !ok || s.expiredLocked(st, now) || st.owner != who || (st.rt != nil) != (c.rt != nil) {
		return nil, "", nil, false
	}
	delete(s.byKey, key)
	s.unlinkLocked(st)
	st.key = sha256.Sum256([]byte(fresh))
	s.byKey[st.key] = st
	prev, st.conn = st.conn, c
	s.changedLocked()
	return st, fresh, prev, true
}

// adopt registers st, claimed from the shared store under the digest of
// token, attached to c.
func (s *sessionStore) adopt(st *sessionState, token string, c *connection, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	st.key = sha256.Sum256([]byte(token))
	st.conn = c
	s.byKey[st.key] = st
	s.changedLocked()
}

// record returns st as the shared store saves it, under its current key;
// ok is false once st is no longer held here. A session still attached is
// saved as detached now, as the session file has it.
// holds reports whether st is one of the sessions held here.
func (s *sessionStore) holds(st *sessionState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byKey[st.key] == st
}

func (s *sessionStore) record(st *sessionState, now time.Time) (key [sha256.Size]byte, rec SessionRecord, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey[st.key] != st {
		return key, rec, false
	}
	detached := st.detached
	if st.conn != nil {
		detached = now
	}
	return st.key, SessionRecord{
		ID: st.id, Owner: string(st.owner), Input: st.input.SampleRate, Output: st.output.SampleRate,
		TextOnly: st.textOnly, Language: st.language, Detached: detached, Turns: st.conv.Turns(), History: st.conv.History(),
	}, true
}

// forget drops st, whose session was claimed on another node under key,
// unless it has been resumed here since (its key changed), and returns the
// connection it was attached to, which the caller closes as superseded.
func (s *sessionStore) forget(st *sessionState, key [sha256.Size]byte) *connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.key != key || s.byKey[key] != st {
		return nil
	}
	s.removeLocked(st)
	c := st.conn
	st.conn = nil
	s.changedLocked()
	return c
}

// dropToken forgets the session under token's digest, if it is detached:
// the shared store says it was claimed on another node.
func (s *sessionStore) dropToken(token string) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.byKey[key]; ok && st.conn == nil {
		s.removeLocked(st)
		s.changedLocked()
	}
}

// ownerOf returns the principal of the session holding token, if it can
// be resumed now. It spends nothing.
func (s *sessionStore) ownerOf(token string, now time.Time) (principal, bool) {
	key := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byKey[key]
	if !ok || s.expiredLocked(st, now) {
		return "", false
	}
	return st.owner, true
}

// detach marks st as having lost its connection c, starting the resume
// window; beyond the cap on detached sessions the oldest is evicted. It
// does nothing if st has since been resumed elsewhere.
func (s *sessionStore) detach(st *sessionState, c *connection, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.conn != c {
		return
	}
	st.conn = nil
	st.detached = now
	s.expireLocked(now)
	if s.byKey[st.key] == st {
		s.pushDetachedLocked(st)
	}
	s.changedLocked()
}

// len returns how many sessions are held, attached or not.
func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

func (s *sessionStore) expiredLocked(st *sessionState, now time.Time) bool {
	return st.conn == nil && now.Sub(st.detached) > s.window
}
