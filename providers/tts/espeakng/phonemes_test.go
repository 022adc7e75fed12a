//go:build cgo && linux

package espeakng

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestMandarinPhonemes: with the Pinyin voice, Chinese text is read as the
// Mandarin syllables of its Pinyin, tone by tone. (The eSpeak NG 1.52 in
// sherpa-onnx, reading the same 1.51 data, turns 今天 into "l#qk_| qZ;k_|".)
func TestMandarinPhonemes(t *testing.T) {
	lib, err := loadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Voice: "cmn-latn-pinyin"}.withDefaults()
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
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.hanzi, func(t *testing.T) {
			han, err := lib.phonemes(ctx, cfg, tt.hanzi)
			if err != nil {
				t.Fatal(err)
			}
			py, err := lib.phonemes(ctx, cfg, tt.pinyin)
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

// TestNoLibrary: a library that cannot be loaded is ErrNoLibrary, whose
// words name the Debian packages to install.
func TestNoLibrary(t *testing.T) {
	for _, name := range []string{"libespeak-ng-absent.so.1", "/nonexistent/libespeak-ng.so.1", "libc.so.6"} {
		_, err := open(name)
		if !errors.Is(err, ErrNoLibrary) {
			t.Errorf("open(%q): %v, want ErrNoLibrary", name, err)
			continue
		}
		t.Logf("open(%q): %v", name, err)
		if msg := err.Error(); !strings.Contains(msg, "libespeak-ng1") || !strings.Contains(msg, name) {
			t.Errorf("open(%q): %q does not name the package and the library", name, msg)
		}
	}
}
