package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

func TestChunker(t *testing.T) {
	tests := []struct {
		name   string
		deltas []string
		want   []string // sentences from Push, then the Flush remainder
	}{
		{"two sentences", []string{"Hello there, how are you? I am ", "fine thanks."}, []string{"Hello there, how are you?", "I am fine thanks."}},
		{"waits for lookahead", []string{"The answer is ready.", " Next"}, []string{"The answer is ready.", "Next"}},
		{"decimal stays whole", []string{"It costs 3.5 dollars today. Yes"}, []string{"It costs 3.5 dollars today.", "Yes"}},
		{"abbreviation", []string{"Talk to Dr. Smith about it. Then rest"}, []string{"Talk to Dr. Smith about it.", "Then rest"}},
		{"short sentence joins the next", []string{"Hi. How can I help you today? "}, []string{"Hi. How can I help you today?"}},
		{"cjk", []string{"你好，今天天气很好。我们去", "公园吧！"}, []string{"你好，今天天气很好。", "我们去公园吧！"}},
		{"split rune-by-rune", strings.Split("One sentence here. Another one there.", ""), []string{"One sentence here.", "Another one there."}},
		{"newline", []string{"First line of text\nSecond"}, []string{"First line of text", "Second"}},
		{"max chars cut at comma", []string{strings.Repeat("word ", 30) + "end, " + strings.Repeat("more ", 20)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewChunker()
			var got []string
			for _, d := range tt.deltas {
				got = append(got, c.Push(d)...)
			}
			if rest := c.Flush(); rest != "" {
				got = append(got, rest)
			}
			if tt.want == nil { // only check no sentence exceeds MaxChars and nothing is lost
				joined := strings.Join(got, " ")
				if strings.Join(strings.Fields(joined), " ") != strings.Join(strings.Fields(strings.Join(tt.deltas, "")), " ") {
					t.Fatalf("text lost: %q", got)
				}
				for _, s := range got {
					if len([]rune(s)) > c.MaxChars {
						t.Fatalf("sentence of %d runes > MaxChars", len([]rune(s)))
					}
				}
				if len(got) < 2 {
					t.Fatalf("long text not cut: %q", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkChunker(b *testing.B) {
	deltas := strings.Fields("Sure. The quick brown fox jumps over the lazy dog. It was a sunny day, and everyone was happy! Shall we go?")
	b.ReportAllocs()
	for b.Loop() {
		c := NewChunker()
		for _, d := range deltas {
			c.Push(d + " ")
		}
		c.Flush()
	}
}
