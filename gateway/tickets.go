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
// are swept when the store is full and refused when redeemed. The Realtime
// endpoint's client secrets (ek_…) are tickets of a store of their own,
// with a prefix, a lifetime per ticket and the session settings they were
// minted with.
type ticketStore struct {
	max    int
	ttl    time.Duration // the default and the longest lifetime
	prefix string        // of every ticket

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]ticket
}

type ticket struct {
	who     principal
	expires time.Time
	data    any // what the ticket was minted with, if anything
}

func newTicketStore(max int) *ticketStore {
	return &ticketStore{max: max, ttl: TicketTTL, byKey: make(map[[sha256.Size]byte]ticket)}
}

// mint returns a new ticket (256 bits) for who. When max tickets are
// outstanding it returns ok=false and how long until the oldest expires.
func (t *ticketStore) mint(who principal, now time.Time) (tok string, retryAfter time.Duration, ok bool) {
	return t.mintWith(who, nil, t.ttl, now)
}

// mintWith is mint for a ticket that carries data and lives ttl (at most
// the store's).
func (t *ticketStore) mintWith(who principal, data any, ttl time.Duration, now time.Time) (tok string, retryAfter time.Duration, ok bool) {
	tok = t.prefix + randomToken(32)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byKey) >= t.max {
		retryAfter = t.ttl
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
	t.byKey[sha256.Sum256([]byte(tok))] = ticket{who: who, expires: now.Add(min(ttl, t.ttl)), data: data}
	return tok, 0, true
}

// redeem spends tok and returns the principal it was minted for. ok is
// false for an unknown, spent or expired ticket.
func (t *ticketStore) redeem(tok string, now time.Time) (principal, bool) {
	tk, ok := t.redeemTicket(tok, now)
	return tk.who, ok
}

// redeemTicket spends tok and returns the ticket.
func (t *ticketStore) redeemTicket(tok string, now time.Time) (ticket, bool) {
	key := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.byKey[key]
	if !ok {
		return ticket{}, false
	}
	delete(t.byKey, key)
	if !now.Before(tk.expires) {
		return ticket{}, false
	}
	return tk, true
}

// len returns how many tickets are held, expired ones not yet swept too.
func (t *ticketStore) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}
