package pipeline

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ContentHasher fingerprints user content for logs: what was said or typed,
// a reply, whatever an engine echoes of either. Equal texts get equal
// fingerprints, so an operator can follow one utterance through the logs
// without reading it.
//
// A fingerprint is keyed (HMAC-SHA256): a plain hash of a short utterance
// ("yes", a PIN) is recovered by hashing guesses until one matches, which a
// reader of the logs cannot do without the key. Keep the key out of the
// logs and out of the configuration file in clear.
//
// The gateway and the providers that log content take one from their
// caller; a program that gives them the same one gets fingerprints that
// match across them. It is safe for concurrent use.
type ContentHasher struct {
	key []byte
}

// MinContentKey is the shortest key NewContentHasher accepts, in bytes.
const MinContentKey = 16

// NewContentHasher returns a hasher with key, which it copies: the same key
// gives the same fingerprints in every process that has it, so that logs
// correlate across restarts and instances.
func NewContentHasher(key []byte) (*ContentHasher, error) {
	if len(key) < MinContentKey {
		return nil, fmt.Errorf("content key is %d bytes; want at least %d", len(key), MinContentKey)
	}
	return &ContentHasher{key: append([]byte(nil), key...)}, nil
}

// NewRandomContentHasher returns a hasher with a random key of its own: its
// fingerprints match within the process and nowhere else.
func NewRandomContentHasher() *ContentHasher {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails: crypto/rand aborts the program instead
	return &ContentHasher{key: key}
}

// Sum returns the fingerprint of text: the first 6 bytes of its
// HMAC-SHA256 in hex, 12 characters. That is plenty to tell a session's
// texts apart and far too little to stand in for the text.
func (h *ContentHasher) Sum(text string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(text))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:6])
}
