package gateway

import (
	"crypto/sha256"
	"sync"
	"time"
)

// TicketTTL is how long a ticket from POST /v1/tickets may be used.
const TicketTTL = 60 * time.Second

// ticketStore holds the outstanding tickets: short-lived, single-use
// credentials for one upgrade, minted with an API key by a backend that
// hands them to a browser, so that the key itself never goes into a URL.
// Like sessions, tickets are indexed by digest, so the store never holds one
// in a form that can be presented. At most max are outstanding; expired ones
// are swept when the store is full and refused when redeemed.
type ticketStore struct {
	max int

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]ticket
}

type ticket struct {
	who     principal
	expires time.Time
}

func newTicketStore(max int) *ticketStore {
	return &ticketStore{max: max, byKey: make(map[[sha256.Size]byte]ticket)}
}

// mint returns a new ticket (256 bits) for who. When max tickets are
// outstanding it returns ok=false and how long until the oldest expires.
func (t *ticketStore) mint(who principal, now time.Time) (tok string, retryAfter time.Duration, ok bool) {
	tok = randomToken(32)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byKey) >= t.max {
		retryAfter = TicketTTL
		for k, tk := range t.byKey {
			if !now.Before(tk.expires) {
				delete(t.byKey, k)
			} else {
				retryAfter = min(retryAfter, tk.expires.Sub(now))
			}
		}
		if len(t.byKey) >= t.max {
			return "", retryAfter, false
		}
	}
	t.byKey[sha256.Sum256([]byte(tok))] = ticket{who: who, expires: now.Add(TicketTTL)}
	return tok, 0, true
}

// redeem spends tok and returns the principal it was minted for. ok is
// false for an unknown, spent or expired ticket.
func (t *ticketStore) redeem(tok string, now time.Time) (principal, bool) {
	key := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.byKey[key]
	if !ok {
		return "", false
	}
	delete(t.byKey, key)
	if !now.Before(tk.expires) {
		return "", false
	}
	return tk.who, true
}

// len returns how many tickets are held, expired ones not yet swept too.
func (t *ticketStore) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}
