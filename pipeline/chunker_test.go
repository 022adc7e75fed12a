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
		{"max chars without a comma or space", []string{strings.Repeat("长", 200)}, nil},

		// The first clause of a reply is cut early; later ones join.
		{"zh first clause early", []string{"今天天气很好，", "我们去公园吧，然后吃饭。晚上见。"}, []string{"今天天气很好，", "我们去公园吧，然后吃饭。", "晚上见。"}},
		{"zh first clause needs a few runes", []string{"你好，今天天气很好，我们走吧。"}, []string{"你好，今天天气很好，", "我们走吧。"}},
		{"zh enumeration comma is a clause end", []string{"苹果香蕉橙子、葡萄和梨都很好。"}, []string{"苹果香蕉橙子、", "葡萄和梨都很好。"}},
		{"zh half-width comma and stop", []string{"这是一个测试,然后是第二句!最后一句"}, []string{"这是一个测试,", "然后是第二句!", "最后一句"}},
		{"zh full-width comma after Latin", []string{"OK, Go 语言很好用，它很快。"}, []string{"OK, Go 语言很好用，", "它很快。"}},
		{"zh thousands separator", []string{"总共是一共1，000元，谢谢。"}, []string{"总共是一共1，000元，", "谢谢。"}},
		{"zh separator waits for the next rune", []string{"价格一共是1，", "000元。"}, []string{"价格一共是1，000元。"}},
		{"zh decimal", []string{"温度是三十3.5度。明天更冷。"}, []string{"温度是三十3.5度。", "明天更冷。"}},
		{"zh ellipsis stays whole", []string{"这个问题……让我想一想。好的"}, []string{"这个问题……", "让我想一想。", "好的"}},
		{"zh corner quotes stay with the stop", []string{"他说：「我们明天见。」然后", "走了。"}, []string{"他说：「我们明天见。」", "然后走了。"}},
		{"zh curly quotes stay with the stop", []string{"她问：“你吃饭了吗？”我说吃了。"}, []string{"她问：“你吃饭了吗？”", "我说吃了。"}},
		{"zh stop and exclamation", []string{"你说的是真的吗？！太好了，谢谢你。"}, []string{"你说的是真的吗？！", "太好了，谢谢你。"}},
		{"zh short sentence joins the next", []string{"好的。", "我明白你的意思了。"}, []string{"好的。我明白你的意思了。"}},
		{"mixed zh en", []string{"我喜欢用 Go 写服务器，because it is fast. 你呢？"}, []string{"我喜欢用 Go 写服务器，", "because it is fast.", "你呢？"}},
		{"mixed en stop before zh", []string{"That is the answer.这是答案。"}, []string{"That is the answer.", "这是答案。"}},
		{"zh split rune-by-rune", strings.Split("今天天气很好，我们去公园吧。", ""), []string{"今天天气很好，", "我们去公园吧。"}},

		// English: a first clause is cut at a comma only after 25 runes.
		{"en short first clause waits", []string{"Yes, I can help with that. Anything else?"}, []string{"Yes, I can help with that.", "Anything else?"}},
		{"en long first clause early", []string{"The capital city of France, as you know, is Paris. It is big."}, []string{"The capital city of France,", "as you know, is Paris.", "It is big."}},
		{"en list keeps its first items", []string{"You will need flour, eggs, milk and sugar. Mix them well."}, []string{"You will need flour, eggs, milk and sugar.", "Mix them well."}},
		{"en closing quote stays with the comma", []string{`"I really do not know what you mean," she said. Then she left.`}, []string{`"I really do not know what you mean,"`, "she said. Then she left."}},
		{"en closing quote after a comma at a delta's end", []string{`"I really do not know what you mean,`, `" she said.`}, []string{`"I really do not know what you mean,"`, "she said."}},
		{"en date stays whole", []string{"It was founded on January 15, 2024 in Paris, France. It grew fast."}, []string{"It was founded on January 15, 2024 in Paris,", "France. It grew fast."}},
		{"en date waits past the space", []string{"It was founded on January 15,", " ", "2024 in Paris. Yes"}, []string{"It was founded on January 15, 2024 in Paris.", "Yes"}},
		{"en spaced thousands", []string{"The population is about 8, 000 people in the town. Next question."}, []string{"The population is about 8, 000 people in the town.", "Next question."}},
		{"en thousands separator", []string{"The total comes to 12,000 dollars, give or take. Yes"}, []string{"The total comes to 12,000 dollars,", "give or take.", "Yes"}},
		{"en quote after the stop", []string{"She said \"see you tomorrow.\" Then left"}, []string{"She said \"see you tomorrow.\"", "Then left"}},
		{"en ellipsis", []string{"Well... I think it is fine... Maybe"}, []string{"Well... I think it is fine...", "Maybe"}},
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
				if strings.Join(strings.Fields(strings.Join(got, "")), "") != strings.Join(strings.Fields(strings.Join(tt.deltas, "")), "") {
					t.Fatalf("text lost: %q", got)
				}
				for _, s := range got {
					if w := widthOf(s); w > c.MaxChars {
						t.Fatalf("piece %d wide > MaxChars", w)
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

func widthOf(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

// TestChunkerNewReply checks that Flush starts a new reply, whose first
// clause is cut early again, and that FirstClause ≤ 0 turns the early cut
// off.
func TestChunkerNewReply(t *testing.T) {
	c := NewChunker()
	for range 2 {
		if got := c.Push("今天天气很好，我们去公园吧，"); !reflect.DeepEqual(got, []string{"今天天气很好，"}) {
			t.Fatalf("first clause: got %q", got)
		}
		if rest := c.Flush(); rest != "我们去公园吧，" {
			t.Fatalf("flush: got %q", rest)
		}
	}
	c.FirstClause, c.FirstClauseWide = 0, 0
	if got := c.Push("今天天气很好，我们去公园吧，"); len(got) != 0 {
		t.Fatalf("FirstClauseWide 0: got %q", got)
	}
	c.Flush()
	if got := c.Push("The capital city of France, as you know, is"); len(got) != 0 {
		t.Fatalf("FirstClause 0: got %q", got)
	}
}

// TestChunkerClauseAtStall: a model that stops right after a first
// clause's full-width comma has that clause spoken now; after an ASCII
// comma in English the chunker waits one rune for a closing quote.
func TestChunkerClauseAtStall(t *testing.T) {
	tests := []struct {
		deltas []string
		want   []string
	}{
		{[]string{"今天天气", "很好，"}, []string{"今天天气很好，"}},
		{[]string{"今天天气很好,"}, []string{"今天天气很好,"}},
		{[]string{"I really do not know what you mean,"}, nil},
		{[]string{"I really do not know what you mean,", "\" she"}, []string{"I really do not know what you mean,\""}},
	}
	for _, tt := range tests {
		c := NewChunker()
		var got []string
		for _, d := range tt.deltas {
			got = append(got, c.Push(d)...)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.deltas, got, tt.want)
		}
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
