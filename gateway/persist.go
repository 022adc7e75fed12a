package gateway

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/pipeline"
)

// SessionRecord is a resumable session as a store keeps it: in
// Options.SessionFile, and as a SessionStore saves it. It holds the digest
// of the resume token, never the token, so a record grants nothing by
// itself; it does hold the conversation, hence mode 0600 for the file.
// Owner is the principal the session belongs to (a digest of its key, or
// "anonymous"): restored, it is still resumable by that principal alone.
// Files written before sessions had owners lack it; their sessions, which
// nobody can show are theirs, are not restored. (Adding the field kept the
// version: an older server reading a newer file ignores it.) Detached is
// when the record was saved, or its connection ended; Turns the number of
// turns the conversation has had, so a resumed session numbers on.
// Language is the session's language; records saved before sessions had
// one lack it, and theirs is the default.
type SessionRecord struct {
	ID       string             `json:"id"`
	Owner    string             `json:"owner"`
	Key      []byte             `json:"key"` // SHA-256 of the resume token
	Input    int                `json:"input_rate"`
	Output   int                `json:"output_rate"`
	TextOnly bool               `json:"text_only,omitempty"`
	Language string             `json:"language,omitempty"`
	Detached time.Time          `json:"detached"`
	Turns    uint64             `json:"turns"`
	History  []pipeline.Message `json:"history"`
}

type sessionFile struct {
	Version  int             `json:"version"`
	Sessions []SessionRecord `json:"sessions"`
}

// errCorruptFile is returned by load for a file it cannot read as a
// session file at all.
var errCorruptFile = errors.New("not a session file")

// snapshot returns every session still inside its resume window, encoded
// for the file. A session still attached is saved as detached now: after
// a crash or a drain that gave up, it is resumable for a whole window.
func (s *sessionStore) snapshot(now time.Time) ([]byte, int, error) {
	s.mu.Lock()
	out := sessionFile{Version: 1, Sessions: make([]SessionRecord, 0, len(s.byKey))}
	for key, st := range s.byKey {
		detached := st.detached
		if st.conn != nil {
			detached = now
		}
		if now.Sub(detached) > s.window || st.rt != nil {
			continue // a Realtime session is resumable while the server runs
		}
		out.Sessions = append(out.Sessions, SessionRecord{
			ID: st.id, Owner: string(st.owner), Key: append([]byte(nil), key[:]...), Input: st.input.SampleRate, Output: st.output.SampleRate,
			TextOnly: st.textOnly, Language: st.language, Detached: detached, Turns: st.conv.Turns(), History: st.conv.History(),
		})
	}
	s.mu.Unlock()
	b, err := json.Marshal(out)
	return b, len(out.Sessions), err
}

// save writes every session still inside its resume window to path, as
// writeFileAtomic does.
func (s *sessionStore) save(path string, now time.Time) (int, error) {
	b, n, err := s.snapshot(now)
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(path, b); err != nil {
		return 0, fmt.Errorf("save sessions: %w", err)
	}
	return n, nil
}

// load restores the sessions saved in path that are still inside their
// resume window, with conversations made by newConv, and returns how many
// it restored and how many entries it refused as invalid. A missing file
// is not an error; a file that is not a session file is errCorruptFile.
func (s *sessionStore) load(path string, now time.Time, newConv conversationMaker) (loaded, refused int, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("load sessions: %w", err)
	}
	var in sessionFile
	if err := json.Unmarshal(b, &in); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errCorruptFile, err)
	}
	if in.Version != 1 {
		return 0, 0, fmt.Errorf("%w: unknown version %d", errCorruptFile, in.Version)
	}
	var keep []*sessionState
	seen := make(map[[sha256.Size]byte]bool, len(in.Sessions))
	for _, saved := range in.Sessions {
		st, ok := restore(saved, now, s.window, newConv)
		if !ok || seen[st.key] {
			if now.Sub(saved.Detached) <= s.window { // expired ones are no fault of the file
				refused++
			}
			continue
		}
		seen[st.key] = true
		keep = append(keep, st)
	}
	// Oldest first, as the detached list keeps them; beyond the cap the
	// oldest are left out.
	slices.SortFunc(keep, func(a, b *sessionState) int { return a.detached.Compare(b.detached) })
	if s.maxDetached > 0 && len(keep) > s.maxDetached {
		keep = keep[len(keep)-s.maxDetached:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range keep {
		s.byKey[st.key] = st
		s.pushDetachedLocked(st)
	}
	s.changedLocked()
	return len(keep), refused, nil
}

// conversationMaker makes the conversation of a restored session of the
// given language, and says which configured language the session gets.
type conversationMaker func(language string) (*pipeline.Conversation, string)

// restore checks one saved session and rebuilds it, detached. It refuses
// an entry with no owner, a malformed id or key, an unsupported rate or a
// history that no conversation makes (plausibleHistory: the file must not
// smuggle a system prompt in), and one whose window has passed. A detached time in
// the future (a clock set back, a file edited) counts as now, so the
// session expires a window from now rather than never.
func restore(saved SessionRecord, now time.Time, window time.Duration, newConv conversationMaker) (*sessionState, bool) {
	if saved.Owner == "" || len(saved.Key) != sha256.Size || !validID(saved.ID) || saved.Detached.IsZero() {
		return nil, false
	}
	detached := saved.Detached
	if detached.After(now) {
		detached = now
	}
	if now.Sub(detached) > window {
		return nil, false
	}
	if !audio.IsSupportedRate(saved.Input) || !audio.IsSupportedRate(saved.Output) {
		return nil, false
	}
	if !plausibleHistory(saved.History) {
		return nil, false
	}
	conv, lang := newConv(saved.Language)
	conv.Append(saved.History...)
	conv.SkipTurns(saved.Turns)
	st := &sessionState{
		id: saved.ID, owner: principal(saved.Owner), conv: conv, textOnly: saved.TextOnly, language: lang, detached: detached,
		input:  audio.Format{SampleRate: saved.Input, Channels: 1},
		output: audio.Format{SampleRate: saved.Output, Channels: 1},
	}
	copy(st.key[:], saved.Key)
	return st, true
}

// plausibleHistory reports whether msgs could be a conversation's: the
// user's and the assistant's messages, and tool results that answer a
// call an earlier assistant message made. Nothing else (a system prompt
// smuggled in) is taken.
func plausibleHistory(msgs []pipeline.Message) bool {
	calls := map[string]bool{}
	for _, m := range msgs {
		switch m.Role {
		case pipeline.RoleUser:
		case pipeline.RoleAssistant:
			for _, c := range m.ToolCalls {
				calls[c.ID] = true
			}
		case pipeline.RoleTool:
			if !calls[m.ToolCallID] {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validID reports whether id looks like one randomToken made: 1 to 64
// base64url characters.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
