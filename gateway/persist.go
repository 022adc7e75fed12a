package gateway

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// savedSession is a session as written to Options.SessionFile. It holds the
// digest of the resume token, never the token, so the file grants nothing
// by itself; it does hold the conversation, hence mode 0600. Owner is the
// principal the session belongs to (a digest of its key, or "anonymous"):
// restored, it is still resumable by that principal alone. Files written
// before sessions had owners lack it; their sessions, which nobody can show
// are theirs, are not restored. (Adding the field kept the version: an
// older server reading a newer file ignores it.)
type savedSession struct {
	ID       string             `json:"id"`
	Owner    string             `json:"owner"`
	Key      []byte             `json:"key"` // SHA-256 of the resume token
	Input    int                `json:"input_rate"`
	Output   int                `json:"output_rate"`
	TextOnly bool               `json:"text_only,omitempty"`
	Detached time.Time          `json:"detached"`
	Turns    uint64             `json:"turns"`
	History  []pipeline.Message `json:"history"`
}

type sessionFile struct {
	Version  int            `json:"version"`
	Sessions []savedSession `json:"sessions"`
}

// save writes every session still inside its resume window to path,
// atomically. Called after the drain, when every session is detached.
func (s *sessionStore) save(path string, now time.Time) (int, error) {
	s.mu.Lock()
	out := sessionFile{Version: 1}
	for key, st := range s.byKey {
		detached := st.detached
		if st.conn != nil {
			detached = now // still attached when the drain gave up
		}
		if now.Sub(detached) > s.window {
			continue
		}
		out.Sessions = append(out.Sessions, savedSession{
			ID: st.id, Owner: string(st.owner), Key: append([]byte(nil), key[:]...), Input: st.input.SampleRate, Output: st.output.SampleRate,
			TextOnly: st.textOnly, Detached: detached, Turns: st.conv.Turns(), History: st.conv.History(),
		})
	}
	s.mu.Unlock()
	b, err := json.Marshal(out)
	if err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".voicegate-sessions-*")
	if err != nil {
		return 0, fmt.Errorf("save sessions: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("save sessions: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("save sessions: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("save sessions: %w", err)
	}
	return len(out.Sessions), nil
}

// load restores the sessions saved in path that are still inside their
// resume window, with conversations made by newConv. It returns how many
// it restored, and how many it could not because they have no owner (saved
// by an older version). A missing file is not an error.
func (s *sessionStore) load(path string, now time.Time, newConv func() *pipeline.Conversation) (n, ownerless int, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("load sessions: %w", err)
	}
	var in sessionFile
	if err := json.Unmarshal(b, &in); err != nil {
		return 0, 0, fmt.Errorf("load sessions from %s: %w (delete the file to start afresh)", path, err)
	}
	if in.Version != 1 {
		return 0, 0, fmt.Errorf("load sessions from %s: unknown version %d", path, in.Version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, saved := range in.Sessions {
		if len(saved.Key) != sha256.Size || now.Sub(saved.Detached) > s.window {
			continue
		}
		if saved.Owner == "" {
			ownerless++
			continue
		}
		in, out := audio.Format{SampleRate: saved.Input, Channels: 1}, audio.Format{SampleRate: saved.Output, Channels: 1}
		if in.Validate() != nil || (out.Validate() != nil && !saved.TextOnly) {
			continue
		}
		conv := newConv()
		conv.Append(saved.History...)
		conv.SkipTurns(saved.Turns)
		st := &sessionState{id: saved.ID, owner: principal(saved.Owner), conv: conv, input: in, output: out, textOnly: saved.TextOnly, detached: saved.Detached}
		copy(st.key[:], saved.Key)
		s.byKey[st.key] = st
		n++
	}
	return n, ownerless, nil
}
