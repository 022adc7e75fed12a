package httpx

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/voicegate/voicegate/pipeline"
)

// A provider's credentials are masked wherever they turn up in an error's
// text, whole or in part: an upstream that echoes a key often truncates it
// (a body quoted to 80 characters, a message cut at 300), and a key short of
// its last few characters is as good as the key.
const (
	// minSecret is the shortest value treated as a secret. Shorter header
	// values ("v2", "true") are not credentials, and masking them wherever
	// they occur would garble every message.
	minSecret = 6
	// maxFragment is the length of the shortest fragment masked of a secret
	// of 16 characters or more. Seven characters of a key leave the other
	// nine or more (over 50 bits of a random key) unknown, and eight random
	// characters do not turn up in a provider's prose by chance. Shorter
	// secrets have fragments of half their length masked, but never fewer
	// than minSecret characters.
	maxFragment = 8
	// keptTokens is how many OAuth2 access tokens are remembered: the
	// current one and the one before it, which calls still in flight carry.
	keptTokens = 2
)

// secret is one credential and every fragment of it long enough to mask.
type secret struct {
	value string
	n     int                 // fragment length
	frags map[string]struct{} // every substring of value of length n
}

func newSecret(v string) (secret, bool) {
	if len(v) < minSecret {
		return secret{}, false
	}
	n := min(max(len(v)/2, minSecret), maxFragment)
	s := secret{value: v, n: n, frags: make(map[string]struct{}, len(v)-n+1)}
	for i := 0; i+n <= len(v); i++ {
		s.frags[v[i:i+n]] = struct{}{}
	}
	return s, true
}

// scrubber masks a Client's credentials in text. It is safe for concurrent
// use.
type scrubber struct {
	static []secret // fixed at New: the key, the OAuth2 client secret, header values

	mu     sync.RWMutex
	tokens []secret // the latest OAuth2 access tokens, oldest first
}

func newScrubber(values ...string) *scrubber {
	s := &scrubber{}
	for _, v := range values {
		if sec, ok := newSecret(v); ok {
			s.static = append(s.static, sec)
		}
	}
	return s
}

// token remembers an access token that is now in use.
func (s *scrubber) token(t string) {
	s.mu.RLock()
	known := len(s.tokens) > 0 && s.tokens[len(s.tokens)-1].value == t
	s.mu.RUnlock()
	if known {
		return
	}
	sec, ok := newSecret(t)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) > 0 && s.tokens[len(s.tokens)-1].value == t {
		return
	}
	s.tokens = append(s.tokens, sec)
	if len(s.tokens) > keptTokens {
		s.tokens = append(s.tokens[:0], s.tokens[len(s.tokens)-keptTokens:]...)
	}
}

// scrub returns text with every run of characters that is a long enough
// fragment of a secret replaced by "[REDACTED]".
func (s *scrubber) scrub(text string) string {
	var masked []bool // allocated on the first hit
	mark := func(sec secret) {
		for i := 0; i+sec.n <= len(text); i++ {
			if _, ok := sec.frags[text[i:i+sec.n]]; ok {
				if masked == nil {
					masked = make([]bool, len(text))
				}
				for j := i; j < i+sec.n; j++ {
					masked[j] = true
				}
			}
		}
	}
	for _, sec := range s.static {
		mark(sec)
	}
	s.mu.RLock()
	for _, sec := range s.tokens {
		mark(sec)
	}
	s.mu.RUnlock()
	if masked == nil {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if !masked[i] {
			b.WriteByte(text[i])
			continue
		}
		b.WriteString(redacted)
		for i+1 < len(text) && masked[i+1] {
			i++
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// scrubbedError is an error whose text held a credential. It unwraps to the
// error kinds the original matched and to nothing else: the original's own
// fields (go-openai's APIError.Message, say) still hold the credential and
// must not be reachable with errors.As.
type scrubbedError struct {
	msg   string
	kinds []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.kinds }

// kinds are the errors callers branch on with errors.Is, which a scrubbed
// error keeps.
var kinds = []error{
	pipeline.ErrTimeout, pipeline.ErrRateLimited, pipeline.ErrUnavailable, pipeline.ErrRejected, pipeline.ErrBadResponse,
	context.Canceled, context.DeadlineExceeded,
}

// Scrub returns err with every credential of c (the API key, the OAuth2
// client secret and recent access tokens, the values of Config.Headers)
// masked in its text, whole or in part. An error that holds none is
// returned as it is; one that does becomes an error with the masked text
// that errors.Is still finds the pipeline error kinds and context errors
// in, but that errors.As no longer finds its parts in.
//
// Every provider built on a Client passes each error it returns through
// Scrub, at the one place its calls return (see the package doc, "Where
// credentials are scrubbed"): that is the only place every path meets.
// Scrubbing inside Do would not be enough, since much of what a provider
// reports comes from a 2xx body that Do only hands on: go-openai's
// APIError for a stream's error event, a transcript that is not JSON.
func (c *Client) Scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := c.secrets.scrub(msg)
	if clean == msg {
		return err
	}
	e := &scrubbedError{msg: clean}
	for _, k := range kinds {
		if errors.Is(err, k) {
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

// scrub masks c's credentials in s.
func (c *Client) scrub(s string) string { return c.secrets.scrub(s) }
