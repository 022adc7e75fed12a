package openai

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDeltaDecoder(t *testing.T) {
	tests := []struct {
		name  string
		parts []string // raw JSON values
		want  []string // text after each part
	}{
		{"plain", []string{`"hi"`, `" there"`}, []string{"hi", " there"}},
		{"null and empty", []string{`null`, `""`, `"x"`}, []string{"", "", "x"}},
		{"escapes", []string{`"a\"b\\c\/d\n\t\u00e9"`}, []string{"a\"b\\c/d\n\té"}},
		{"split 2-byte", []string{"\"caf\xc3\"", "\"\xa9\""}, []string{"caf", "é"}},
		{"split 4-byte thrice", []string{"\"\xf0\"", "\"\x9f\"", "\"\x91\x8b!\""}, []string{"", "", "👋!"}},
		{"split surrogates", []string{`"a\ud83d"`, `"\udc4bb"`}, []string{"a", "👋b"}},
		{"lone high then text", []string{`"\ud83d"`, `"x"`}, []string{"", "\uFFFDx"}},
		{"lone low", []string{`"\udc4b"`}, []string{"\uFFFD"}},
		{"invalid byte", []string{"\"a\xffb\""}, []string{"a\uFFFDb"}},
		{"truncated sequence then ascii", []string{"\"\xe4\xbd\"", "\"x\""}, []string{"", "\uFFFDx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d deltaDecoder
			for i, p := range tt.parts {
				got, err := d.decode([]byte(p))
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want[i] {
					t.Fatalf("part %d: got %q, want %q", i, got, tt.want[i])
				}
			}
		})
	}
	var d deltaDecoder
	for _, bad := range []string{`"abc`, `123`, `"\x"`, `"\u12"`, `"\u12zz"`, `"a\"`} {
		if _, err := d.decode([]byte(bad)); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

// FuzzDeltaDecoder: however a valid text (a reply's words, or a tool call's
// arguments) is cut into events, the deltas are valid UTF-8 and add up to
// the text.
func FuzzDeltaDecoder(f *testing.F) {
	f.Add("héllo 你好 👋", uint8(2), uint8(5), false)
	f.Add("😀😀", uint8(1), uint8(3), true)
	// Tool call arguments pass through the same decoder: JSON text with
	// escapes of its own.
	f.Add(`{"q":"say \"hi\"\n","city":"Zürich 👋"}`, uint8(11), uint8(40), false)
	f.Add(`{"e":"👋","n":[1,2]}`, uint8(7), uint8(8), true)
	f.Fuzz(func(t *testing.T, s string, a, b uint8, escaped bool) {
		if !utf8.ValidString(s) {
			return
		}
		parts := cutQuoted(s, a, b, escaped)
		var d deltaDecoder
		var out strings.Builder
		for _, p := range parts {
			got, err := d.decode([]byte(p))
			if err != nil {
				t.Fatalf("%q: %v", p, err)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("invalid delta %q", got)
			}
			out.WriteString(got)
		}
		if out.String() != s || d.pending() {
			t.Fatalf("got %q, want %q (parts %q)", out.String(), s, parts)
		}
	})
}

// cutQuoted quotes s as a server would (raw UTF-8, or ASCII escapes) and
// cuts it at a and b (modulo its length) into three JSON strings.
func cutQuoted(s string, a, b uint8, escaped bool) []string {
	q := rawQuote(s)
	if escaped {
		q = asciiQuote(s)
	}
	body := q[1 : len(q)-1]
	cuts := []int{int(a) % (len(body) + 1), int(b) % (len(body) + 1)}
	if cuts[0] > cuts[1] {
		cuts[0], cuts[1] = cuts[1], cuts[0]
	}
	// Never cut inside a backslash escape: a server cuts characters, not
	// JSON tokens.
	for i := range cuts {
		for cuts[i] > 0 && insideEscape(body, cuts[i]) {
			cuts[i]--
		}
	}
	return []string{`"` + body[:cuts[0]] + `"`, `"` + body[cuts[0]:cuts[1]] + `"`, `"` + body[cuts[1]:] + `"`}
}

// insideEscape reports whether cutting s at i splits a backslash escape.
func insideEscape(s string, i int) bool {
	for j := 0; j < len(s); j++ {
		if s[j] != '\\' {
			continue
		}
		n := 2
		if j+1 < len(s) && s[j+1] == 'u' {
			n = 6
		}
		if i > j && i < j+n {
			return true
		}
		j += n - 1
	}
	return false
}
