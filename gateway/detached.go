package gateway

import "time"

// The detached sessions, those waiting to be resumed, are kept in a list in
// the order their connections ended, oldest first. A session joins the
// back when it is detached and leaves when it is resumed, evicted or
// expires, so that:
//
//   - the cap on detached sessions (Config.MaxDetachedSessions) evicts the
//     oldest in O(1), and
//   - expiry pops from the front only what has expired, on every create,
//     resume and detach, and from one timer armed for the front's expiry,
//     so that memory is given back once the window has passed even when
//     no one connects. No goroutine waits meanwhile.
//
// Everything here is called with sessionStore.mu held, but stop.

// storeHooks tell the Server what the store did. Each may be nil.
type storeHooks struct {
	changed  func()      // a token, a session or its state changed: the saved file is stale
	evicted  func(n int) // n detached sessions were evicted for the cap
	detached func(n int) // n sessions are detached now
}

// setChanged sets the hook told when the saved state goes stale.
func (s *sessionStore) setChanged(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.changed = f
}

// minExpiryDelay keeps an expiry timer from spinning on a clock that does
// not move (a test's).
const minExpiryDelay = 10 * time.Millisecond

// changedLocked tells the hooks that the saved state is stale and how many
// sessions are detached.
func (s *sessionStore) changedLocked() {
	if s.hooks.changed != nil {
		s.hooks.changed()
	}
	if s.hooks.detached != nil {
		s.hooks.detached(s.idle.Len())
	}
}

// pushDetachedLocked puts st, detached at st.detached, at the back of the
// list, evicts the oldest beyond the cap and arms the expiry timer.
func (s *sessionStore) pushDetachedLocked(st *sessionState) {
	st.elem = s.idle.PushBack(st)
	evicted := 0
	for s.maxDetached > 0 && s.idle.Len() > s.maxDetached {
		s.removeLocked(s.idle.Front().Value.(*sessionState))
		evicted++
	}
	if evicted > 0 && s.hooks.evicted != nil {
		s.hooks.evicted(evicted)
	}
	s.armLocked()
}

// unlinkLocked takes st out of the detached list, if it is there.
func (s *sessionStore) unlinkLocked(st *sessionState) {
	if st.elem != nil {
		s.idle.Remove(st.elem)
		st.elem = nil
	}
}

// removeLocked forgets st altogether.
func (s *sessionStore) removeLocked(st *sessionState) {
	s.unlinkLocked(st)
	if s.byKey[st.key] == st {
		delete(s.byKey, st.key)
	}
}

// expireLocked forgets the detached sessions whose window has passed. It
// reports whether it forgot any.
func (s *sessionStore) expireLocked(now time.Time) bool {
	forgot := false
	for e := s.idle.Front(); e != nil; e = s.idle.Front() {
		st := e.Value.(*sessionState)
		if !s.expiredLocked(st, now) {
			break
		}
		s.removeLocked(st)
		forgot = true
	}
	return forgot
}

// armLocked starts the expiry timer for the oldest detached session, unless
// one runs or the store is stopped.
func (s *sessionStore) armLocked() {
	front := s.idle.Front()
	if front == nil || s.timer != nil || s.stopped {
		return
	}
	left := s.window - s.clock().Sub(front.Value.(*sessionState).detached) + time.Millisecond
	s.timerWG.Add(1)
	s.timer = time.AfterFunc(max(left, minExpiryDelay), s.onTimer)
}

func (s *sessionStore) onTimer() {
	defer s.timerWG.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	if s.stopped {
		return
	}
	if s.expireLocked(s.clock()) && s.hooks.detached != nil {
		s.hooks.detached(s.idle.Len())
	}
	s.armLocked()
}

// stop stops the expiry timer and waits for a run of it to end; the store
// still works, but expires lazily only.
func (s *sessionStore) stop() {
	s.mu.Lock()
	s.stopped = true
	if s.timer != nil && s.timer.Stop() {
		s.timer = nil
		s.timerWG.Done()
	}
	s.mu.Unlock()
	s.timerWG.Wait()
}
