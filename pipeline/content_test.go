package pipeline_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/voicegate/voicegate/pipeline"
)

func TestContentHasher(t *testing.T) {
	keyA := []byte("0123456789abcdef-operator-key-a")
	keyB := []byte("0123456789abcdef-operator-key-b")
	a1, err := pipeline.NewContentHasher(keyA)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := pipeline.NewContentHasher(keyA) // another process with the same key
	b, _ := pipeline.NewContentHasher(keyB)

	const word = "yes"
	if a1.Sum(word) != a2.Sum(word) {
		t.Errorf("one key, two fingerprints: %s, %s", a1.Sum(word), a2.Sum(word))
	}
	if a1.Sum(word) == b.Sum(word) {
		t.Errorf("two keys, one fingerprint %s", a1.Sum(word))
	}
	if a1.Sum(word) == a1.Sum("no") {
		t.Error("two texts, one fingerprint")
	}
	if s := a1.Sum(word); len(s) != 12 {
		t.Errorf("fingerprint %q, want 12 hex digits", s)
	}

	// Under the default, random key, a short word is not its plain hash:
	// a reader of the logs cannot recover it by hashing guesses.
	plain := sha256.Sum256([]byte(word))
	r1, r2 := pipeline.NewRandomContentHasher(), pipeline.NewRandomContentHasher()
	if got := r1.Sum(word); got == hex.EncodeToString(plain[:6]) {
		t.Errorf("fingerprint of %q is its unkeyed SHA-256 %s", word, got)
	}
	if first := r1.Sum(word); r1.Sum(word) != first || first == r2.Sum(word) {
		t.Error("random keys: want one fingerprint per hasher and different ones across hashers")
	}

	if _, err := pipeline.NewContentHasher([]byte("short")); err == nil {
		t.Error("a 5-byte key accepted")
	}
	// The hasher copies its key.
	key := append([]byte(nil), keyA...)
	h, _ := pipeline.NewContentHasher(key)
	before := h.Sum(word)
	key[0] ^= 0xff
	if h.Sum(word) != before {
		t.Error("changing the caller's key slice changed the fingerprints")
	}
}
