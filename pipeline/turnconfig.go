package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TurnConfig tunes how a Session forgives speech over its reply and how
// long a pause ends the user's turn. The zero value of each field selects
// its default (DefaultTurnConfig); the word lists default to those of the
// session's Language. The yaml keys are those of voicegate's configuration
// file (turn: section).
//
// Speech that starts during a reply first pauses it (EventReplyPaused). It
// cuts the reply (a barge-in) once BargeInMinSpeech of it is voiced and,
// when the recogniser gives partial transcripts, BargeInMinWords of its
// words are not backchannel words. Speech that ends short of that is
// judged by its final transcript: nothing or only backchannels ("mm-hm",
// "yeah") is a false interruption, dropped, and the reply resumes
// (EventReplyResumed); words make it a barge-in after all.
//
// The silence that ends a turn is the detector's (vad.silence) unless the
// words so far say more: EndSilenceMin after a finished-sounding phrase,
// EndSilenceMax after a hesitation ("um", a dangling "and") or a rising
// pitch at the end of the speech. A phrase that ends on a word that
// leaves it open ("so", "to", "of" in English) keeps the detector's.
// Hesitations count as no words for a barge-in.
type TurnConfig struct {
	// BargeInMinSpeech is the voiced speech over a reply that cuts it.
	BargeInMinSpeech time.Duration `yaml:"barge_in_min_speech"`
	// BargeInMinWords is how many words that are not backchannels a
	// recogniser that gives partials must have heard before a barge-in.
	BargeInMinWords int `yaml:"barge_in_min_words"`
	// ResumeAfter bounds how long a paused reply waits, after the speech
	// that paused it ended, for its final transcript; then it resumes.
	ResumeAfter time.Duration `yaml:"resume_after"`
	// EndSilenceMin is the silence that ends a turn whose words sound
	// finished.
	EndSilenceMin time.Duration `yaml:"end_silence_min"`
	// EndSilenceMax is the silence that ends a turn left on a hesitation
	// or a rising pitch.
	EndSilenceMax time.Duration `yaml:"end_silence_max"`
	// Backchannels are the words that acknowledge without taking the
	// turn; empty: Backchannels(Language).
	Backchannels []string `yaml:"backchannels"`
	// Hesitations are the words after which the speaker is still going;
	// empty: Hesitations(Language).
	Hesitations []string `yaml:"hesitations"`
}

// DefaultTurnConfig returns the defaults, measured on flite's slt voice
// through the energy detector (10 ms windows):
//
//   - voiced speech of single words: "uh-huh" 200 ms, "yeah" 260 ms,
//     "um" 260 ms, "wait" 300 ms, "stop" 360 ms, "okay" 420 ms; a cough
//     is 200–300 ms of noise. 400 ms of voice is more than a cough or a
//     short acknowledgement; a shorter word that is not one still cuts
//     the reply, at the end of its speech.
//   - pauses inside sentences: at most 90 ms between voiced windows, 170
//     ms at a spoken comma, so 300 ms after a finished phrase does not
//     split a sentence.
//   - a hesitation pause is held open for 1.2 s, over twice the 500 ms
//     default, past the 700 ms the tests pause for after "um".
//   - the final transcript of a short utterance comes within 50 ms from
//     pocketsphinx; 1.5 s leaves room for a remote recogniser.
func DefaultTurnConfig() TurnConfig {
	return TurnConfig{
		BargeInMinSpeech: 400 * time.Millisecond,
		BargeInMinWords:  1,
		ResumeAfter:      1500 * time.Millisecond,
		EndSilenceMin:    300 * time.Millisecond,
		EndSilenceMax:    1200 * time.Millisecond,
	}
}

// Backchannels returns the default backchannel words of language: "zh"'s,
// or English's for "en" and any language without lists of its own
// (KnownLanguage). It returns a new slice each call.
func Backchannels(language string) []string {
	switch primaryLanguage(language) {
	case "zh":
		return []string{"嗯", "对", "好", "是", "嗯嗯", "对对"}
	default:
		return []string{"mm-hm", "mhm", "uh-huh", "yeah", "yes", "ok", "okay", "right", "sure"}
	}
}

// Hesitations returns the default hesitation and dangling words of
// language, as Backchannels picks them. It returns a new slice each call.
func Hesitations(language string) []string {
	switch primaryLanguage(language) {
	case "zh":
		return []string{"嗯", "那个", "就是", "然后", "呃"}
	default:
		// Not "so", "to" or "of": they end finished questions as often
		// as unfinished phrases ("I think so", "who did you talk to");
		// see ambiguousEndings.
		return []string{"um", "uh", "er", "erm", "hmm", "and", "but", "the", "a", "because"}
	}
}

// ambiguousEndings returns the words of language that leave it open
// whether a phrase they end is finished ("I think so" or "I want to"): a
// turn that ends on one waits the detector's own silence, neither
// EndSilenceMin nor EndSilenceMax.
func ambiguousEndings(language string) []string {
	switch primaryLanguage(language) {
	case "zh":
		return nil
	default:
		return []string{"so", "to", "of"}
	}
}

// KnownLanguage reports whether language has word lists of its own.
func KnownLanguage(language string) bool {
	switch primaryLanguage(language) {
	case "", "en", "zh":
		return true
	}
	return false
}

// primaryLanguage returns the primary subtag of a BCP 47 tag, lower case:
// "zh" for "zh-Hans-CN" and "zh_TW".
func primaryLanguage(tag string) string {
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(tag)
}

// Or returns c with its zero fields taken from d.
func (c TurnConfig) Or(d TurnConfig) TurnConfig {
	orDefault(&c.BargeInMinSpeech, d.BargeInMinSpeech)
	orDefault(&c.BargeInMinWords, d.BargeInMinWords)
	orDefault(&c.ResumeAfter, d.ResumeAfter)
	orDefault(&c.EndSilenceMin, d.EndSilenceMin)
	orDefault(&c.EndSilenceMax, d.EndSilenceMax)
	if len(c.Backchannels) == 0 {
		c.Backchannels = d.Backchannels
	}
	if len(c.Hesitations) == 0 {
		c.Hesitations = d.Hesitations
	}
	return c
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports settings a Session cannot work with, naming the yaml
// key.
func (c TurnConfig) Validate() error {
	var errs []error
	if c.BargeInMinSpeech < 0 || c.ResumeAfter < 0 || c.EndSilenceMin < 0 || c.EndSilenceMax < 0 || c.BargeInMinWords < 0 {
		errs = append(errs, errors.New("turn: durations and barge_in_min_words cannot be negative"))
	}
	if c.BargeInMinSpeech > 5*time.Second {
		errs = append(errs, fmt.Errorf("turn.barge_in_min_speech %v: use at most 5s (400ms forgives a cough)", c.BargeInMinSpeech))
	}
	if c.ResumeAfter > 10*time.Second {
		errs = append(errs, fmt.Errorf("turn.resume_after %v: use at most 10s", c.ResumeAfter))
	}
	for key, d := range map[string]time.Duration{"end_silence_min": c.EndSilenceMin, "end_silence_max": c.EndSilenceMax} {
		if d != 0 && (d < 100*time.Millisecond || d > 5*time.Second) {
			errs = append(errs, fmt.Errorf("turn.%s %v: use between 100ms and 5s", key, d))
		}
	}
	if c.EndSilenceMin != 0 && c.EndSilenceMax != 0 && c.EndSilenceMin > c.EndSilenceMax {
		errs = append(errs, fmt.Errorf("turn.end_silence_min %v is above turn.end_silence_max %v", c.EndSilenceMin, c.EndSilenceMax))
	}
	if len(c.Backchannels) > maxWords || len(c.Hesitations) > maxWords {
		errs = append(errs, fmt.Errorf("turn: at most %d backchannels and %d hesitations", maxWords, maxWords))
	}
	return errors.Join(errs...)
}

// maxWords caps each word list.
const maxWords = 256

// words is a TurnConfig's word lists, normalised for matching.
type words struct {
	backchannel map[string]bool
	hesitation  []string // normalised, longest first
	ambiguous   []string // ambiguousEndings
}

// newWords readies c's word lists, and language's ambiguous endings, for
// matching.
func newWords(c TurnConfig, language string) words {
	w := words{backchannel: make(map[string]bool, len(c.Backchannels)), ambiguous: ambiguousEndings(language)}
	for _, b := range c.Backchannels {
		if n := normalize(b); n != "" {
			w.backchannel[n] = true
		}
	}
	for _, h := range c.Hesitations {
		if n := normalize(h); n != "" {
			w.hesitation = append(w.hesitation, n)
		}
	}
	slices.SortFunc(w.hesitation, func(a, b string) int { return len(b) - len(a) })
	return w
}

// normalize lowercases s and drops its punctuation and symbols ("Mm-hm."
// is "mmhm"); spaces between words stay, one each.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// isCJK reports whether r is written without spaces between words.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// substantive counts the words of transcript that are neither
// backchannels nor hesitations: "um" and a dangling "and" say the speaker
// is not done, not what they want, so the words after them decide a
// barge-in. A transcript that is one backchannel as a whole ("uh huh",
// "嗯嗯") has none; in text without spaces each CJK character that is no
// part of a hesitation counts as a word.
func (w words) substantive(transcript string) int {
	n := normalize(transcript)
	if n == "" || w.backchannel[n] || w.backchannel[strings.ReplaceAll(n, " ", "")] {
		return 0
	}
	count := 0
	for _, tok := range strings.Fields(n) {
		if w.backchannel[tok] || slices.Contains(w.hesitation, tok) {
			continue
		}
		cjk := 0
		for _, r := range tok {
			if isCJK(r) {
				cjk++
			}
		}
		if cjk == 0 {
			count++
			continue
		}
		for _, h := range w.hesitation {
			if r, _ := utf8.DecodeRuneInString(h); isCJK(r) {
				cjk -= strings.Count(tok, h) * utf8.RuneCountInString(h)
				tok = strings.ReplaceAll(tok, h, "")
			}
		}
		count += max(cjk, 0)
	}
	return count
}

// lastWord returns the last word of transcript, normalised, or "".
func lastWord(transcript string) string {
	n := normalize(transcript)
	if i := strings.LastIndexByte(n, ' '); i >= 0 {
		return n[i+1:]
	}
	return n
}

// ambiguousEnd reports whether transcript's last word is one of the
// ambiguous endings.
func (w words) ambiguousEnd(transcript string) bool {
	return slices.Contains(w.ambiguous, lastWord(transcript))
}

// hesitant reports whether transcript ends on a hesitation: its last word
// is one, or, in text without spaces, it ends with one.
func (w words) hesitant(transcript string) bool {
	last := lastWord(transcript)
	if last == "" {
		return false
	}
	for _, h := range w.hesitation {
		if last == h {
			return true
		}
		if r, _ := utf8.DecodeRuneInString(h); isCJK(r) && strings.HasSuffix(last, h) {
			return true
		}
	}
	return false
}
