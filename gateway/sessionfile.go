package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// sessionFileDelay bounds how stale Options.SessionFile is while the
// server runs: a change (a session created, resumed with a new token,
// detached or evicted) is on disk at most this long, plus the time a write
// takes, after it happened; and the file is written at most once per
// this long, however many sessions come and go. A crash (kill -9, power
// loss) thus loses at most the last second: a token spent in it may be
// accepted once more after the restart, and a session created in it is
// not resumable.
const sessionFileDelay = time.Second

// writeFileAtomic replaces path with data, mode 0600, so that a crash at
// any point leaves the old file or the new one, whole: a temporary file in
// the same directory, written and synced, renamed over path, and the
// directory synced so that the rename itself is durable.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".voicegate-sessions-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Where a directory cannot be synced
// (Windows), it does nothing.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// moveAside renames a session file that cannot be read to
// path.corrupt-TIMESTAMP, keeping it for a look, and returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405.000Z"))
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, syncDir(filepath.Dir(path))
}

// persister writes the session file a while after the sessions change, as
// sessionFileDelay says: changes mark it, and one write, off the caller's
// goroutine, saves them all. At most one write runs at a time.
type persister struct {
	delay time.Duration
	write func() // saves, and reports its own errors

	mu      sync.Mutex
	pending *time.Timer // armed while a write is due
	closed  bool
	wg      sync.WaitGroup // the pending write's run
	writing sync.Mutex     // held by a write
}

func newPersister(delay time.Duration, write func()) *persister {
	return &persister{delay: delay, write: write}
}

// mark says the file is stale. It never blocks on a write.
func (p *persister) mark() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.pending != nil {
		return // a write is due already, and will see this change
	}
	p.wg.Add(1)
	p.pending = time.AfterFunc(p.delay, p.run)
}

func (p *persister) run() {
	defer p.wg.Done()
	// Take the write lock before clearing pending: a change marked while
	// this write runs schedules the next one.
	p.writing.Lock()
	defer p.writing.Unlock()
	p.mu.Lock()
	p.pending = nil
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		p.write()
	}
}

// close cancels a pending write and waits for one running to end; later
// marks do nothing. The caller then writes the final state itself.
func (p *persister) close() {
	p.mu.Lock()
	p.closed = true
	if p.pending != nil && p.pending.Stop() {
		p.pending = nil
		p.wg.Done()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// openSessionFile restores the sessions of Options.SessionFile and
// rewrites the file at once: it proves the file can be written (New fails
// now rather than the drain later), and no longer holds the entries it
// was refused or that have expired. From then on the file follows the
// sessions, sessionFileDelay behind. A file that is not a session file is
// moved aside and the server starts without sessions: a crash loop would
// lose them as well.
func (s *Server) openSessionFile() error {
	path, now := s.opts.SessionFile, s.opts.Now()
	n, refused, err := s.sessions.load(path, now, s.conversationIn)
	switch {
	case errors.Is(err, errCorruptFile):
		aside, merr := moveAside(path, now)
		if merr != nil {
			return fmt.Errorf("gateway: server.session_file %s is not a session file (%v) and cannot be moved aside: %w", path, err, merr)
		}
		s.log.Error("session file unreadable: moved aside, starting without sessions to resume",
			zap.String("file", path), zap.String("moved_to", aside), zap.Error(err))
	case err != nil:
		return fmt.Errorf("gateway: server.session_file %s: %w", path, err)
	case n > 0 || refused > 0:
		s.log.Info("sessions restored for resume", zap.Int("sessions", n), zap.Int("refused", refused), zap.String("file", path))
	}
	if _, err := s.sessions.save(path, now); err != nil {
		return fmt.Errorf("gateway: server.session_file %s cannot be written: %w", path, err)
	}
	s.countWrite(nil)
	s.persist = newPersister(sessionFileDelay, s.writeSessions)
	s.sessions.setChanged(s.persist.mark)
	return nil
}

// writeSessions is the persister's write. A failure is logged once, until
// a write succeeds again.
func (s *Server) writeSessions() {
	_, err := s.sessions.save(s.opts.SessionFile, s.opts.Now())
	s.countWrite(err)
	failing := err != nil
	if failing == s.fileFailing {
		return
	}
	s.fileFailing = failing
	if failing {
		s.log.Error("session file not written; a restart now would lose the sessions changed since", zap.String("file", s.opts.SessionFile), zap.Error(err))
	} else {
		s.log.Info("session file written again", zap.String("file", s.opts.SessionFile))
	}
}

func (s *Server) countWrite(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.metrics.fileWrites.WithLabelValues(result).Inc()
}
