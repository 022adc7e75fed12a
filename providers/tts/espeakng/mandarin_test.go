//go:build cgo && linux

package espeakng_test

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/voicegate/voicegate/providers/tts/espeakng"
)

// mandarinVoice is the offline Mandarin voice (docs/providers.md): it
// reads Hanzi through its dictionary into Pinyin, and the Pinyin as
// Mandarin. (With the cmn voice of eSpeak NG 1.51, Latin text, the
// dictionary's Pinyin included, is read as English: "今" becomes "jin
// one".)
const mandarinVoice = "cmn-latn-pinyin"

// TestMandarin: Chinese text is spoken as Mandarin syllables: as long as
// the same syllables given in Pinyin, and of a length per character that
// Mandarin speech has (about 4 to 6 syllables a second), not one that
// reads tone digits or spells characters.
func TestMandarin(t *testing.T) {
	s := newSynth(t, espeakng.Config{Voice: mandarinVoice})
	tests := []struct {
		hanzi, pinyin string
	}{
		{"今天天气很好，我们去公园吧。", "jin1 tian1 tian1 qi4 hen3 hao3, wo3 men5 qu4 gong1 yuan2 ba5."},
		{"你好，很高兴认识你。", "ni3 hao3, hen3 gao1 xing4 ren4 shi5 ni3."},
		{"北京是中国的首都。", "bei3 jing1 shi4 zhong1 guo2 de5 shou3 du1."},
	}
	for _, tt := range tests {
		t.Run(tt.hanzi, func(t *testing.T) {
			han := 0
			for _, r := range tt.hanzi {
				if unicode.Is(unicode.Han, r) {
					han++
				}
			}
			rate := s.Format().SampleRate
			hz, py := synth(t, s, tt.hanzi), synth(t, s, tt.pinyin)
			dur := func(tk take) time.Duration { return time.Duration(len(tk.pcm)) * time.Second / time.Duration(rate) }
			fromHanzi, fromPinyin := dur(hz), dur(py)
			perChar := fromHanzi / time.Duration(han)
			t.Logf("%d characters: %v of audio (%v a character), first audio after %v, all after %v; the Pinyin: %v",
				han, fromHanzi.Round(time.Millisecond), perChar.Round(time.Millisecond), hz.first.Round(10*time.Microsecond), hz.total.Round(10*time.Microsecond), fromPinyin.Round(time.Millisecond))
			if perChar < 120*time.Millisecond || perChar > 330*time.Millisecond {
				t.Errorf("%v of audio a character: not Mandarin syllables", perChar)
			}
			if d := fromHanzi - fromPinyin; d < -fromPinyin/10 || d > fromPinyin/10 {
				t.Errorf("Hanzi give %v of audio, their Pinyin %v: not the same syllables", fromHanzi, fromPinyin)
			}
		})
	}
}

// TestMandarinPhonemes: with the Pinyin voice, Chinese text is read as the
// Mandarin syllables of its Pinyin, tone by tone. (The eSpeak NG 1.52 in
// sherpa-onnx, reading the same 1.51 data, turns 今天 into "l#qk_| qZ;k_|".)
func TestMandarinPhonemes(t *testing.T) {
	s := newSynth(t, espeakng.Config{Voice: mandarinVoice})
	tests := []struct {
		hanzi, pinyin string
		want          []string // syllables, in order
	}{
		{"今天天气很好，我们去公园吧。", "jin1 tian1 tian1 qi4 hen3 hao3, wo3 men5 qu4 gong1 yuan2 ba5.",
			[]string{"tS;'i55n", "th'iE55n", "th'iE55n", "tS;h'i51", "X'@214n", "X'Au214", "w'o214", "k'ong55", "'y&35n"}},
		{"你好，很高兴认识你。", "ni3 hao3, hen3 gao1 xing4 ren4 shi5 ni3.",
			[]string{"n'i214", "X'Au214", "k'Au55", "S;'i51N", "z.'@51n", "n'i214"}},
		{"明天会下雨吗？", "ming2 tian1 hui4 xia4 yu3 ma5?",
			[]string{"m'i35N", "th'iE55n", "X'uei51", "S;'iA51", ";'y214", "m'A11"}},
	}
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.hanzi, func(t *testing.T) {
			han, err := s.Phonemes(ctx, tt.hanzi)
			if err != nil {
				t.Fatal(err)
			}
			py, err := s.Phonemes(ctx, tt.pinyin)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", tt.hanzi, han)
			if han != py {
				t.Errorf("Hanzi read as %q, their Pinyin as %q", han, py)
			}
			rest := han
			for _, syl := range tt.want {
				i := strings.Index(rest, syl)
				if i < 0 {
					t.Errorf("no %q (in order) in %q", syl, han)
					break
				}
				rest = rest[i+len(syl):]
			}
		})
	}
}
