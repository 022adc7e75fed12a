package piper

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxChunkRunes caps the text one generation takes: a generation cannot be
// interrupted, and its memory grows with its length.
const maxChunkRunes = 240

// sentences splits text into the pieces generated one at a time: its
// sentences, and sentences longer than maxChunkRunes at their last clause
// break (else word break) within the limit. Blank pieces are dropped.
func sentences(text string) []string {
	var out []string
	add := func(s string) {
		for s = strings.TrimSpace(s); s != ""; {
			head, rest := cut(s)
			if h := strings.TrimSpace(head); h != "" {
				out = append(out, h)
			}
			s = strings.TrimSpace(rest)
		}
	}
	start := 0
	for i, r := range text {
		if !isSentenceEnd(r) {
			continue
		}
		end := i + utf8.RuneLen(r)
		if next, _ := utf8.DecodeRuneInString(text[end:]); end == len(text) || unicode.IsSpace(next) || isWide(r) {
			add(text[start:end])
			start = end
		}
	}
	add(text[start:])
	return out
}

// cut splits s at the last clause or word break within maxChunkRunes; s
// within the limit is head.
func cut(s string) (head, rest string) {
	if utf8.RuneCountInString(s) <= maxChunkRunes {
		return s, ""
	}
	limit := 0
	for range maxChunkRunes {
		_, size := utf8.DecodeRuneInString(s[limit:])
		limit += size
	}
	window := s[:limit]
	if i := strings.LastIndexAny(window, ",;:，、；："); i > 0 {
		_, size := utf8.DecodeRuneInString(window[i:])
		return s[:i+size], s[i+size:]
	}
	if i := strings.LastIndexFunc(window, unicode.IsSpace); i > 0 {
		return s[:i], s[i:]
	}
	return window, s[limit:]
}

func isSentenceEnd(r rune) bool { return strings.ContainsRune(".!?…。！？", r) }

// isWide reports a full-width terminator, which needs no space after it.
func isWide(r rune) bool { return r >= 0x3000 }
