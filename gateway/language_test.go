package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// langLLM answers reply and keeps the system prompts it was given.
type langLLM struct {
	name, reply string
	mu          sync.Mutex
	systems     []string
}

func (l *langLLM) Name() string { return l.name }

func (l *langLLM) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	l.mu.Lock()
	if len(msgs) > 0 && msgs[0].Role == pipeline.RoleSystem {
		l.systems = append(l.systems, msgs[0].Content)
	}
	l.mu.Unlock()
	return emit(l.reply)
}

func (l *langLLM) prompts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.systems...)
}

// langTTS is a Tone under its own name that keeps what it spoke.
type langTTS struct {
	pipelinetest.Tone
	name  string
	mu    sync.Mutex
	texts []string
}

func (s *langTTS) Name() string { return s.name }

func (s *langTTS) Synthesize(ctx context.Context, text string, emit func([]int16) error) error {
	s.mu.Lock()
	s.texts = append(s.texts, text)
	s.mu.Unlock()
	return s.Tone.Synthesize(ctx, text, emit)
}

func (s *langTTS) spoken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

const zhPrompt = "你是一个有帮助的语音助手。"

// languageServer is a server speaking English on its main stages and
// Mandarin with a model and a voice of its own.
func languageServer(t *testing.T) (ts *testServer, enLLM, zhLLM *langLLM, enTTS, zhTTS *langTTS) {
	enLLM = &langLLM{name: "en-llm", reply: "Hello, nice to meet you."}
	zhLLM = &langLLM{name: "zh-llm", reply: "你好，很高兴认识你。"}
	enTTS = &langTTS{name: "en-voice", Tone: pipelinetest.Tone{PerRune: time.Millisecond}}
	zhTTS = &langTTS{name: "zh-voice", Tone: pipelinetest.Tone{Rate: 22050, PerRune: time.Millisecond}}
	ts = newServer(t, func(o *gateway.Options) {
		o.Stages.LLM, o.Stages.TTS = enLLM, enTTS
		o.Languages = map[string]gateway.Language{
			"zh":    {Stages: pipeline.Stages{LLM: zhLLM, TTS: zhTTS}, SystemPrompt: zhPrompt},
			"zh-TW": {SystemPrompt: "你是語音助手。"},
		}
	})
	return ts, enLLM, zhLLM, enTTS, zhTTS
}

// TestLanguageSelectsStages: session.start's language picks the stage set
// and prompt by the nearest configured tag; the default without one.
func TestLanguageSelectsStages(t *testing.T) {
	ts, enLLM, zhLLM, enTTS, zhTTS := languageServer(t)
	tests := []struct {
		tag, want string
		llm, tts  string
		prompt    string
	}{
		{"", "en", "en-llm", "en-voice", gateway.DefaultSessionConfig().SystemPrompt},
		{"en-US", "en", "en-llm", "en-voice", gateway.DefaultSessionConfig().SystemPrompt},
		{"zh", "zh", "zh-llm", "zh-voice", zhPrompt},
		{"zh-CN", "zh", "zh-llm", "zh-voice", zhPrompt},
		{"ZH_hans_CN", "zh", "zh-llm", "zh-voice", zhPrompt},
		{"zh-tw", "zh-tw", "en-llm", "en-voice", "你是語音助手。"},  // its nil stages are the main ones
		{"zh-Hant-TW", "zh", "zh-llm", "zh-voice", zhPrompt}, // "zh-hant" is not configured, "zh" is
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			llm := map[string]*langLLM{"en-llm": enLLM, "zh-llm": zhLLM}[tt.llm]
			tts := map[string]*langTTS{"en-voice": enTTS, "zh-voice": zhTTS}[tt.tts]
			before, spokenBefore := len(llm.prompts()), len(tts.spoken())
			c := ts.dial(t, dialOpts{})
			defer c.close()
			fields := map[string]any{}
			if tt.tag != "" {
				fields["language"] = tt.tag
			}
			st := c.start(fields)
			if st.Language != tt.want || st.Providers.LLM != tt.llm || st.Providers.TTS != tt.tts {
				t.Fatalf("session.started language %q providers %+v, want %q with %s and %s", st.Language, st.Providers, tt.want, tt.llm, tt.tts)
			}
			c.sendJSON(map[string]any{"type": "input.text", "text": "hi"})
			done, _ := c.expect(protocol.TypeResponseDone)
			if done.str("text") != llm.reply {
				t.Fatalf("reply %q, want %q", done.str("text"), llm.reply)
			}
			if p := llm.prompts(); len(p) != before+1 || p[len(p)-1] != tt.prompt {
				t.Fatalf("%s got system prompts %q, want one more: %q", tt.llm, p[before:], tt.prompt)
			}
			if s := tts.spoken(); len(s) <= spokenBefore {
				t.Fatalf("%s spoke nothing", tt.tts)
			}
		})
	}
}

// TestUnsupportedLanguage: a language the server does not speak is a typed
// error naming those it does; the connection stays open and a correct
// session.start then succeeds.
func TestUnsupportedLanguage(t *testing.T) {
	ts, _, _, _, _ := languageServer(t)
	c := ts.dial(t, dialOpts{})
	defer c.close()
	for _, tag := range []string{"fr", "fr-zh", "cmn"} {
		c.sendJSON(map[string]any{"type": "session.start", "language": tag})
		m := c.expectError(protocol.CodeUnsupportedLang)
		if m.flag("fatal") || !strings.Contains(m.str("message"), "en, zh, zh-tw") || !strings.Contains(m.str("message"), tag) {
			t.Fatalf("error %s: want not fatal, naming %q and en, zh, zh-tw", m.Raw, tag)
		}
	}
	c.sendJSON(map[string]any{"type": "session.start", "language": "not a tag"})
	c.expectError(protocol.CodeInvalidMessage)
	if st := c.start(map[string]any{"language": "zh-CN"}); st.Language != "zh" {
		t.Fatalf("language %q after the refusal, want zh", st.Language)
	}
	c.ping()
}

// TestResumeKeepsLanguage: a resumed session keeps its language, its
// providers and its prompt, whatever session.start asks.
func TestResumeKeepsLanguage(t *testing.T) {
	ts, _, zhLLM, _, _ := languageServer(t)
	c := ts.dial(t, dialOpts{})
	st := c.start(map[string]any{"language": "zh"})
	c.close()
	c2 := ts.dial(t, dialOpts{})
	defer c2.close()
	st2 := c2.start(map[string]any{"resume_token": st.ResumeToken, "language": "en"})
	if !st2.Resumed || st2.Language != "zh" || st2.Providers.LLM != "zh-llm" {
		t.Fatalf("resumed %v, language %q, providers %+v: want the zh session back", st2.Resumed, st2.Language, st2.Providers)
	}
	c2.sendJSON(map[string]any{"type": "input.text", "text": "再见"})
	c2.expect(protocol.TypeResponseDone)
	if p := zhLLM.prompts(); len(p) != 1 || p[0] != zhPrompt {
		t.Fatalf("zh model prompts %q, want the zh prompt once", p)
	}
}

// TestLanguagesOptions: a table of languages the gateway cannot use is
// refused by New.
func TestLanguagesOptions(t *testing.T) {
	llm := &langLLM{name: "x"}
	tests := []struct {
		name    string
		def     string
		langs   map[string]gateway.Language
		wantErr string
	}{
		{"fine", "", map[string]gateway.Language{"zh": {}, "yue-HK": {}}, ""},
		{"default in the table", "", map[string]gateway.Language{"EN": {}}, "session.language"},
		{"bad tag", "", map[string]gateway.Language{"中文": {}}, "not a BCP 47"},
		{"twice", "", map[string]gateway.Language{"zh-cn": {}, "zh_CN": {}}, "twice"},
		{"bad default", "e n", nil, "session.language"},
		{"other default", "zh", map[string]gateway.Language{"en": {}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := gateway.Options{Stages: pipeline.Stages{LLM: llm}, Languages: tt.langs}
			opts.SessionConfig.Language = tt.def
			srv, err := gateway.New(opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				srv.Shutdown(context.Background())
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

// TestLanguageSurvivesRestart: the session file keeps a session's
// language, and a record saved before sessions had one resumes in the
// default.
func TestLanguageSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	withLanguages := func(o *gateway.Options) {
		o.SessionFile = file
		o.Languages = map[string]gateway.Language{"zh": {SystemPrompt: zhPrompt}}
	}
	first := newServer(t, withLanguages)
	c := first.dial(t, dialOpts{})
	token := c.start(map[string]any{"language": "zh"}).ResumeToken
	c.close()
	shutdown(t, first)
	if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), `"language":"zh"`) {
		t.Fatalf("session file %s (%v): want the language saved", b, err)
	}

	second := newServer(t, withLanguages)
	c = second.dial(t, dialOpts{})
	st := c.start(map[string]any{"resume_token": token})
	if !st.Resumed || st.Language != "zh" {
		t.Fatalf("after the restart: resumed %v, language %q; want zh", st.Resumed, st.Language)
	}
	c.close()
	shutdown(t, second)

	// As an older server wrote it: no language.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(b), `"language":"zh",`, "", 1)
	if old == string(b) {
		t.Fatalf("no language to remove in %s", b)
	}
	if err := os.WriteFile(file, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	third := newServer(t, withLanguages)
	c = third.dial(t, dialOpts{})
	defer c.close()
	if st := c.start(map[string]any{"resume_token": st.ResumeToken}); !st.Resumed || st.Language != "en" {
		t.Fatalf("old record: resumed %v, language %q; want the default, en", st.Resumed, st.Language)
	}
}

// TestRealtimeLanguage: on /v1/realtime the language is the input
// transcription's, set in the client secret the session starts with; its
// stages and prompt answer. One the server does not speak is refused when
// the secret is minted, and a session.update cannot change a session's.
func TestRealtimeLanguage(t *testing.T) {
	enLLM := &langLLM{name: "en-llm", reply: "Hello, nice to meet you."}
	zhLLM := &langLLM{name: "zh-llm", reply: "你好，很高兴认识你。"}
	zhTTS := &langTTS{name: "zh-voice", Tone: pipelinetest.Tone{PerRune: time.Millisecond}}
	ts := newServer(t, func(o *gateway.Options) {
		withKey(o)
		o.Stages.LLM, o.Stages.TTS = enLLM, &langTTS{name: "en-voice"}
		o.Languages = map[string]gateway.Language{"zh": {Stages: pipeline.Stages{LLM: zhLLM, TTS: zhTTS}, SystemPrompt: zhPrompt}}
	})
	transcription := func(lang string) string {
		return `{"session":{"type":"realtime","audio":{"input":{"transcription":{"model":"whisper-1","language":"` + lang + `"}}}}}`
	}
	if status, body := mintSecret(t, ts, testKey, transcription("fr")); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body), "en, zh") {
		t.Fatalf("a secret for fr: %d %v, want 400 naming en, zh", status, body)
	}
	_, secret := mintSecret(t, ts, testKey, transcription("zh-CN"))
	ek, _ := secret["value"].(string)
	c := ts.realtime(t, rtDial{header: bearer(ek)})
	defer c.close()
	spoken := len(zhTTS.spoken())
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "你好"}}}})
	c.expect(realtime.EventItemAdded)
	c.send(map[string]any{"type": "response.create"})
	done, _ := c.response()
	if !strings.Contains(string(done.Raw), zhLLM.reply) {
		t.Fatalf("response.done %s, want the zh model's reply", done.Raw)
	}
	if p := zhLLM.prompts(); len(p) == 0 || p[len(p)-1] != zhPrompt {
		t.Fatalf("zh model prompts %q, want %q", p, zhPrompt)
	}
	if len(zhTTS.spoken()) <= spoken {
		t.Fatal("the zh voice spoke nothing")
	}
	for _, tc := range []struct{ lang, want string }{{"en", "speaks 'zh'"}, {"fr", "not supported"}} {
		c.sendText(`{"type":"session.update","event_id":"lang","session":{"type":"realtime","audio":{"input":{"transcription":{"model":"whisper-1","language":"` + tc.lang + `"}}}}}`)
		m := c.expectError(realtime.TypeInvalidRequest, realtime.CodeInvalidValue, "lang")
		if !strings.Contains(string(m.Raw), tc.want) {
			t.Fatalf("session.update to %s: %s, want it to say %q", tc.lang, m.Raw, tc.want)
		}
	}
	c.sendText(`{"type":"session.update","session":{"type":"realtime","audio":{"input":{"transcription":{"model":"whisper-1","language":"zh"}}}}}`)
	c.expect(realtime.EventSessionUpdated)
}
