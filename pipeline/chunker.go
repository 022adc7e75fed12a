package pipeline

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chunker cuts a stream of LLM text into sentences worth synthesising on
// their own, so speech can start before the reply is complete.
//
// A sentence ends at . ! ? ; or a newline followed by white space (the
// lookahead keeps "3.5" and "e.g." whole), or at CJK 。！？； at once. A cut
// is only made once the sentence has MinChars runes, so "Hi." waits for
// more; a run of MaxChars runes with no sentence end is cut at the last comma
// or space. The zero value is not usable; use NewChunker.
type Chunker struct {
	MinChars int // default 12
	MaxChars int // default 220
	buf      strings.Builder
}

// NewChunker returns a Chunker with default limits.
func NewChunker() *Chunker { return &Chunker{MinChars: 12, MaxChars: 220} }

// abbreviations that end in a period but rarely end a sentence.
var abbreviations = []string{"mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "approx.", "no."}

// Push adds a delta and returns the sentences it completed, in order.
func (c *Chunker) Push(delta string) []string {
	c.buf.WriteString(delta)
	var out []string
	for {
		s := c.buf.String()
		cut := c.findCut(s)
		if cut <= 0 {
			return out
		}
		sentence := strings.TrimSpace(s[:cut])
		rest := s[cut:]
		c.buf.Reset()
		c.buf.WriteString(rest)
		if sentence != "" {
			out = append(out, sentence)
		}
	}
}

// Flush returns whatever text is left, trimmed, and empties the Chunker.
func (c *Chunker) Flush() string {
	s := strings.TrimSpace(c.buf.String())
	c.buf.Reset()
	return s
}

// findCut returns the byte offset just after the first sentence in s, or 0.
func (c *Chunker) findCut(s string) int {
	runes := 0
	lastSoft := 0
	for i, r := range s {
		runes++
		end := i + utf8.RuneLen(r)
		switch {
		case isCJKStop(r):
			if runes >= c.MinChars/3 { // CJK packs more per rune
				return end
			}
		case r == '.' || r == '!' || r == '?' || r == ';' || r == '\n':
			if end >= len(s) {
				return 0 // need one rune of lookahead
			}
			next, _ := utf8.DecodeRuneInString(s[end:])
			if !unicode.IsSpace(next) && r != '\n' {
				continue
			}
			if runes < c.MinChars || (r == '.' && endsWithAbbreviation(s[:end])) {
				continue
			}
			return end
		case r == ',' || r == '，' || r == '、' || unicode.IsSpace(r):
			lastSoft = end
		}
		if runes >= c.MaxChars && lastSoft > 0 {
			return lastSoft
		}
	}
	return 0
}

func isCJKStop(r rune) bool {
	switch r {
	case '。', '！', '？', '；', '…':
		return true
	}
	return false
}

func endsWithAbbreviation(s string) bool {
	i := strings.LastIndexFunc(s[:len(s)-1], unicode.IsSpace)
	word := strings.ToLower(s[i+1:])
	for _, a := range abbreviations {
		if word == a {
			return true
		}
	}
	// A single capital letter and a period: an initial ("J. Smith").
	return len(word) == 2 && word[0] >= 'a' && word[0] <= 'z'
}
