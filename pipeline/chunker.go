package pipeline

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chunker cuts a stream of LLM text into pieces worth synthesising on their
// own, so speech can start before the reply is complete.
//
// Lengths are counted in width: a Han, kana or Hangul character counts 3
// (it carries about as much speech as a short word), any other rune 1.
//
// A sentence ends at . ! ? ; followed by white space or a CJK character
// (the lookahead keeps "3.5" and "e.g." whole), at a newline, or at once at
// 。！？； or an ellipsis …, full- or half-width; closing quotes and
// brackets (」』”’）) and further stops right after it stay with it. A cut is
// only made once the sentence is MinChars wide, so "Hi." or "好的。" waits
// for more.
//
// The first piece of a reply is cut earlier: at its first clause end (a
// comma , ， ､ or 、) once it is FirstClause wide (FirstClauseWide when it
// holds a Han, kana or Hangul character), so the first audio comes after
// the first clause rather than the first sentence. In text with spaces a
// comma after a clause of one or two words ("flour, eggs,") is a list's,
// not a cut. Closing quotes and
// brackets after the comma stay with it. A comma between digits, with or
// without a space ("1,000", "1，000", "January 15, 2024"), is no clause
// end. Later clauses join into whole sentences, which makes fewer, larger
// synthesis calls.
//
// A run MaxChars wide with no sentence end is cut at its last comma or
// space, or where it is if it has neither. The zero value is not usable;
// use NewChunker. A Chunker is used by one goroutine.
type Chunker struct {
	MinChars int // default 12
	MaxChars int // default 220
	// FirstClause is the width from which the first piece may end at a
	// comma; default 25 (about five English words: a shorter first
	// clause is often a list's first item, "You will need flour,");
	// ≤ 0 cuts the first piece at sentence ends only.
	FirstClause int
	// FirstClauseWide is FirstClause for a piece with Han, kana or Hangul
	// characters; default 15 (five of them); ≤ 0 cuts such a first piece
	// at sentence ends only.
	FirstClauseWide int
	buf             strings.Builder
	emitted         bool // a piece of this reply has been returned
}

// NewChunker returns a Chunker with default limits.
func NewChunker() *Chunker {
	return &Chunker{MinChars: 12, MaxChars: 220, FirstClause: 25, FirstClauseWide: 15}
}

// abbreviations that end in a period but rarely end a sentence.
var abbreviations = []string{"mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "approx.", "no."}

// Push adds a delta and returns the pieces it completed, in order.
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
			c.emitted = true
		}
	}
}

// Flush returns whatever text is left, trimmed, and empties the Chunker,
// which then starts a new reply.
func (c *Chunker) Flush() string {
	s := strings.TrimSpace(c.buf.String())
	c.buf.Reset()
	c.emitted = false
	return s
}

// findCut returns the byte offset just after the first piece in s, or 0.
func (c *Chunker) findCut(s string) int {
	width, lastSoft, clause := 0, 0, 0 // clause: where the clause since the last comma begins
	wide := false
	var prev rune
	for i, r := range s {
		wide = wide || isWide(r)
		if w := runeWidth(r); width+w <= c.MaxChars || i == 0 {
			width += w
		} else if lastSoft > 0 {
			return lastSoft
		} else {
			return i
		}
		end := i + utf8.RuneLen(r)
		switch {
		case isCJKStop(r):
			if width >= c.MinChars {
				return absorbClosers(s, end)
			}
		case r == '.' || r == '!' || r == '?' || r == ';':
			if width < c.MinChars || (r == '.' && endsWithAbbreviation(s[:end])) {
				break
			}
			cut := absorbClosers(s, end)
			if cut >= len(s) {
				return 0 // need one rune of lookahead
			}
			if next, _ := utf8.DecodeRuneInString(s[cut:]); unicode.IsSpace(next) || isWide(next) {
				return cut
			}
		case r == '\n':
			if width >= c.MinChars {
				return end
			}
			lastSoft = end
		case isComma(r):
			if numberSeparator(prev, s[end:]) {
				break
			}
			lastSoft = end
			first, item := c.FirstClause, len(strings.Fields(s[clause:i])) < 3
			if wide {
				first, item = c.FirstClauseWide, false
			}
			clause = end
			if c.emitted || first <= 0 || width < first || item {
				break // a clause of one or two words is likely a list's item
			}
			if cut := absorbQuotes(s, end); cut < len(s) || wide || r != ',' {
				// Full-width punctuation and CJK text cut at once: a
				// model that pauses after the clause must not hold it.
				return cut
			}
			return 0 // need one rune of lookahead: a closing quote may follow (`mean,"`)
		case unicode.IsSpace(r):
			lastSoft = end
		}
		prev = r
	}
	return 0
}

// runeWidth is r's share of a piece's length (see Chunker).
func runeWidth(r rune) int {
	if isWide(r) {
		return 3
	}
	return 1
}

// isWide reports whether r is a Han, kana or Hangul character.
func isWide(r rune) bool {
	return r >= 0x2E80 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

func isCJKStop(r rune) bool {
	switch r {
	case '。', '！', '？', '；', '…', '｡':
		return true
	}
	return false
}

func isComma(r rune) bool {
	switch r {
	case ',', '，', '、', '､':
		return true
	}
	return false
}

// numberSeparator reports whether a comma after prev, followed by rest,
// may be inside a number or a date: a digit before it and, after any
// spaces, a digit or nothing yet.
func numberSeparator(prev rune, rest string) bool {
	if !isDigit(prev) {
		return false
	}
	next, n := utf8.DecodeRuneInString(strings.TrimLeft(rest, " "))
	return n == 0 || isDigit(next)
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' || '０' <= r && r <= '９' }

// closers are the closing quotes and brackets that stay with the stop or
// comma before them.
const closers = "”’」』）)]》〉】\"'"

// absorbClosers returns the offset after the closing quotes, brackets and
// further stops that follow a stop ending at end, so "好。」" and "yes!”"
// stay whole.
func absorbClosers(s string, end int) int { return absorb(s, end, closers+"。！？!?…") }

// absorbQuotes returns the offset after the closing quotes and brackets
// that follow a comma ending at end, so `mean,"` stays whole.
func absorbQuotes(s string, end int) int { return absorb(s, end, closers) }

// absorb returns the offset after the runes of set that follow end in s.
func absorb(s string, end int, set string) int {
	for end < len(s) {
		r, n := utf8.DecodeRuneInString(s[end:])
		if !strings.ContainsRune(set, r) {
			break
		}
		end += n
	}
	return end
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
