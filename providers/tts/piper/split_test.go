package piper

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSentences(t *testing.T) {
	long := strings.Repeat("word ", 70) // 350 characters, no punctuation
	clauses := strings.Repeat("a clause of some words, ", 14)
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"one", "Hello there.", []string{"Hello there."}},
		{"several", "Good morning. How are you? Fine!", []string{"Good morning.", "How are you?", "Fine!"}},
		{"no terminator", "  just words  ", []string{"just words"}},
		{"decimal point stays", "It costs 3.50 today.", []string{"It costs 3.50 today."}},
		{"blank", " \n\t ", nil},
		{"only punctuation pieces", "Hi. . . Bye.", []string{"Hi.", ".", ".", "Bye."}},
		{"full-width", "你好。今天天气很好！", []string{"你好。", "今天天气很好！"}},
		{"ellipsis", "Well… maybe.", []string{"Well…", "maybe."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sentences(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("sentences(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
	for name, text := range map[string]string{"words": long, "clauses": clauses} {
		t.Run("long "+name, func(t *testing.T) {
			got := sentences(text)
			if len(got) < 2 {
				t.Fatalf("%d pieces", len(got))
			}
			for _, p := range got {
				if n := utf8.RuneCountInString(p); n > maxChunkRunes {
					t.Errorf("piece of %d characters", n)
				}
				if name == "clauses" && !strings.HasSuffix(p, ",") && p != got[len(got)-1] {
					t.Errorf("piece %q not cut at a clause break", p)
				}
			}
			if strings.Join(strings.Fields(strings.Join(got, " ")), " ") != strings.Join(strings.Fields(text), " ") {
				t.Error("the pieces do not add up to the text")
			}
		})
	}
	// A run without any break is cut at the limit, never lost.
	solid := strings.Repeat("x", 500)
	if got := sentences(solid); strings.Join(got, "") != solid || utf8.RuneCountInString(got[0]) != maxChunkRunes {
		t.Errorf("unbroken text cut into %d pieces", len(got))
	}
}

func FuzzSentences(f *testing.F) {
	f.Add("Good morning. How are you?")
	f.Add("你好。今天天气很好！")
	f.Add(strings.Repeat("a, ", 200))
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range sentences(text) {
			if strings.TrimSpace(p) == "" || utf8.RuneCountInString(p) > maxChunkRunes {
				t.Fatalf("piece %q", p)
			}
		}
	})
}
