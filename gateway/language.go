package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
)

// Language is what a session in one language runs on: its stages and its
// system prompt (Options.Languages).
type Language struct {
	// Stages are the language's providers. A nil stage is Options.Stages'
	// one (the same recognizer, say, when no other knows the language).
	Stages pipeline.Stages
	// SystemPrompt opens its conversations. "" means
	// SessionConfig.SystemPrompt.
	SystemPrompt string
}

// MaxLanguages caps Options.Languages.
const MaxLanguages = 64

// normalizeLanguage is tag in the form the gateway compares: lower case,
// subtags joined by '-'.
func normalizeLanguage(tag string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(tag)), "_", "-")
}

// buildLanguages makes the gateway's table of languages from
// Options.Languages and the default language, whose set is Stages and
// SystemPrompt; it fills every language's nil stages and empty prompt
// from those.
func (o *Options) buildLanguages() error {
	o.Language = normalizeLanguage(o.Language)
	if !validLanguage(o.Language) {
		return fmt.Errorf("gateway: session.language %q: give a BCP 47 language tag such as en or zh", o.Language)
	}
	if len(o.Languages) > MaxLanguages {
		return fmt.Errorf("gateway: %d languages, limit %d", len(o.Languages), MaxLanguages)
	}
	o.langs = make(map[string]Language, len(o.Languages)+1)
	o.langs[o.Language] = Language{Stages: o.Stages, SystemPrompt: o.SystemPrompt}
	for tag, l := range o.Languages {
		key := normalizeLanguage(tag)
		switch {
		case !validLanguage(key):
			return fmt.Errorf("gateway: languages: %q is not a BCP 47 language tag such as zh or zh-tw", tag)
		case key == o.Language:
			return fmt.Errorf("gateway: languages.%s: %s is session.language, which the main providers and system prompt serve", tag, key)
		}
		if _, dup := o.langs[key]; dup {
			return fmt.Errorf("gateway: languages: %q is given twice", key)
		}
		if l.Stages.ASR == nil {
			l.Stages.ASR = o.Stages.ASR
		}
		if l.Stages.LLM == nil {
			l.Stages.LLM = o.Stages.LLM
		}
		if l.Stages.TTS == nil {
			l.Stages.TTS = o.Stages.TTS
		}
		if l.Stages.VAD == nil {
			l.Stages.VAD = o.Stages.VAD
		}
		if l.SystemPrompt == "" {
			l.SystemPrompt = o.SystemPrompt
		}
		o.langs[key] = l
	}
	return nil
}

// validLanguage reports whether a normalized tag has the shape of a
// language tag: subtags of 1 to 8 letters or digits, the first of letters.
func validLanguage(tag string) bool {
	if tag == "" || len(tag) > 35 {
		return false
	}
	for i, sub := range strings.Split(tag, "-") {
		if sub == "" || len(sub) > 8 {
			return false
		}
		for _, r := range sub {
			if !('a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
				return false
			}
		}
	}
	return true
}

// matchLanguage returns the configured language a session.start's tag
// asks for: the tag itself, or the nearest by dropping subtags from the
// end ("zh-hans-cn", "zh-hans", "zh"); "" asks for the default. A tag
// that matches none is an unsupported_language error naming those there
// are.
func (o *Options) matchLanguage(tag string) (string, error) {
	t := normalizeLanguage(tag)
	if t == "" {
		return o.Language, nil
	}
	for {
		if _, ok := o.langs[t]; ok {
			return t, nil
		}
		i := strings.LastIndexByte(t, '-')
		if i < 0 {
			return "", protocol.Errorf(protocol.CodeUnsupportedLang, "language %q is not supported; supported: %s", clipText(tag), strings.Join(o.languageNames(), ", "))
		}
		t = t[:i]
	}
}

// languageNames lists the configured languages, the default first.
func (o *Options) languageNames() []string {
	names := make([]string, 0, len(o.langs))
	for k := range o.langs {
		if k != o.Language {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return append([]string{o.Language}, names...)
}

// realtimeLanguage returns the configured language a Realtime session's
// input transcription asks for (its language; none asks for the default),
// or an invalid_value error for one the server does not speak.
func (o *Options) realtimeLanguage(t *realtime.Transcription) (string, *realtime.Error) {
	var tag string
	if t != nil {
		tag = t.Language
	}
	lang, err := o.matchLanguage(tag)
	if err != nil {
		return "", realtime.Invalid(realtime.CodeInvalidValue, "session.audio.input.transcription.language", "%s", errMessage(err))
	}
	return lang, nil
}

// language returns the configured language key and its set for a
// session's language; one that is no longer configured (a session saved
// by a server configured otherwise) gets the default.
func (o *Options) language(key string) (string, Language) {
	if l, ok := o.langs[key]; ok {
		return key, l
	}
	return o.Language, o.langs[o.Language]
}
