package app

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/voicegate/voicegate/configs"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/providers/vad/silero"
)

// settings holds, for every kind Builtin registers, the smallest entry that
// builds it. A kind added without a row here fails TestBuiltinKinds.
// Kinds whose models the operator supplies have none here: their row is
// checked to fail as unbuildable says.
var settings = map[string]map[string]string{
	"asr": {
		"pocketsphinx": "{name: pocketsphinx, preload: 1}",
		"exec":         "{name: exec, command: [cat]}",
		"openai":       "{name: openai, model: whisper-1, api_key: sk-test-0123456789}",
		"groq":         "{name: groq, model: whisper-large-v3}",
		"ollama":       "{name: ollama, model: whisper}",
		"speaches":     "{name: speaches, model: Systran/faster-whisper-small}",
		"sherpa":       "{name: sherpa, kind: sensevoice, dir: /nonexistent/sensevoice}",
	},
	"llm": {
		"echo":     "{name: echo, prefix: 'Heard: '}",
		"openai":   "{name: openai, model: gpt-4o-mini}",
		"groq":     "{name: groq, model: llama-3.1-8b-instant}",
		"deepseek": "{name: deepseek, model: deepseek-chat}",
		"ollama":   "{name: ollama, model: llama3.2}",
		"vllm":     "{name: vllm, model: qwen}",
	},
	"tts": {
		"flite":    "{name: flite}",
		"espeakng": "{name: espeakng, voice: en-us}",
		"piper":    "{name: piper, engines: 1}",
		"exec":     "{name: exec, command: [cat], sample_rate: 16000}",
		"openai":   "{name: openai, model: tts-1, voice: alloy}",
		"speaches": "{name: speaches, model: kokoro, voice: af_heart}",
		"kokoro":   "{name: kokoro, model: kokoro, voice: af_heart}",
	},
	"vad": {
		"energy": "{name: energy}",
		"silero": "{name: silero, threshold: 0.6}", // the model from the models directory
	},
}

// unbuildable are the kinds that cannot be built here, and what their
// settings row must fail with.
var unbuildable = map[string][]string{
	"asr/sherpa": {"providers.asr[0] sherpa", "/nonexistent/sensevoice", "no such file"},
}

func TestBuiltinKinds(t *testing.T) {
	reg := Builtin()
	for stage, kinds := range map[string][]string{
		"asr": slices.Sorted(maps.Keys(reg.ASR)),
		"llm": slices.Sorted(maps.Keys(reg.LLM)),
		"tts": slices.Sorted(maps.Keys(reg.TTS)),
		"vad": slices.Sorted(maps.Keys(reg.VAD)),
	} {
		if got, want := kinds, slices.Sorted(maps.Keys(settings[stage])); !slices.Equal(got, want) {
			t.Errorf("%s kinds registered %v, tested %v", stage, got, want)
		}
		for _, kind := range kinds {
			t.Run(stage+"/"+kind, func(t *testing.T) {
				cfg := configs.Default()
				doc := fmt.Sprintf("providers: {%s: [%s]}", stage, settings[stage][kind])
				if err := configs.Parse([]byte(doc), &cfg); err != nil {
					t.Fatal(err)
				}
				b, err := buildStages(cfg.Providers, reg, Deps{Log: zap.NewNop()})
				if want, ok := unbuildable[stage+"/"+kind]; ok {
					if err == nil {
						b.Close()
						t.Fatalf("%s built", doc)
					}
					for _, w := range want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error %q does not say %q", err, w)
						}
					}
					return
				}
				if err != nil {
					t.Fatalf("building %s: %v", doc, err)
				}
				defer b.Close()
				name := pipeline.NameOf(map[string]any{"asr": b.stages.ASR, "llm": b.stages.LLM, "tts": b.stages.TTS}[stage])
				if stage == "vad" {
					name = b.vadName()
				}
				if !strings.HasPrefix(name, kind) {
					t.Errorf("the %s provider calls itself %q, want a name that starts with its kind %q", stage, name, kind)
				}
			})
		}
	}
}

func TestExampleConfigBuilds(t *testing.T) {
	cfg := configs.Default()
	if err := configs.Parse(configs.Example, &cfg); err != nil {
		t.Fatal(err)
	}
	b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := []string{pipeline.NameOf(b.stages.ASR), pipeline.NameOf(b.stages.LLM), pipeline.NameOf(b.stages.TTS)}; !slices.Equal(got, []string{"pocketsphinx", "echo", "piper"}) {
		t.Errorf("the example's stages are %v", got)
	}
	if b.vadName() != "silero" {
		t.Errorf("the example's vad is %q", b.vadName())
	}
	if err := buildLanguages(b, cfg.Languages, Builtin(), Deps{Log: zap.NewNop()}); err != nil {
		t.Fatal(err)
	}
	zh := b.languages["zh"]
	if zh.Stages.ASR != nil || zh.Stages.LLM != nil || pipeline.NameOf(zh.Stages.TTS) != "espeakng:cmn-latn-pinyin" || zh.SystemPrompt == "" {
		t.Errorf("the example's zh: %+v", zh)
	}
}

func TestLanguageBuildErrors(t *testing.T) {
	cfg := configs.Default()
	if err := configs.Parse([]byte("languages: {zh: {tts: [{name: espeakng, voice: cmn-latn-pinyin}, {name: nope}]}}"), &cfg); err != nil {
		t.Fatal(err)
	}
	b := &built{}
	defer b.Close()
	err := buildLanguages(b, cfg.Languages, Builtin(), Deps{Log: zap.NewNop()})
	if err == nil || !strings.Contains(err.Error(), `languages.zh.tts[1]: unknown provider "nope"`) {
		t.Fatalf("buildLanguages: %v, want it to name languages.zh.tts[1]", err)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"unknown kind", "providers: {llm: [{name: gpt5}]}", []string{`providers.llm[0]: unknown provider "gpt5"`, "known: deepseek, echo, groq"}},
		{"kind of another stage", "providers: {asr: [{name: flite}]}", []string{`providers.asr[0]: unknown provider "flite"`}},
		{"unknown key", "providers: {tts: [{name: flite, voise: slt}]}", []string{"providers.tts[0] flite", "voise"}},
		{"bad setting", "providers: {tts: [{name: flite, voice: kal}]}", []string{"providers.tts[0] flite", `unknown voice "kal"`}},
		{"second of a chain", "providers: {llm: [{name: echo}, {name: nope}]}", []string{"providers.llm[1]", `"nope"`}},
		{"energy takes no settings", "providers: {vad: [{name: energy, model: x.onnx}]}", []string{"providers.vad[0] energy", "model"}},
		{"no silero model", "providers: {vad: [{name: silero, model: /nonexistent/silero.onnx}]}", []string{"providers.vad[0] silero", "/nonexistent/silero.onnx", "run scripts/models.sh"}},
		{"sherpa without its files", "providers: {asr: [{name: sherpa, kind: zipformer-streaming, dir: /}]}", []string{"providers.asr[0] sherpa", "missing encoder*.onnx (encoder), decoder*.onnx (decoder), joiner*.onnx (joiner), tokens.txt (tokens)"}},
		{"two vads", "providers: {vad: [{name: energy}, {name: energy}]}", []string{"providers.vad", "takes one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := configs.Default()
			if err := configs.Parse([]byte(tt.doc), &cfg); err != nil {
				t.Fatal(err)
			}
			b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: zap.NewNop()})
			if err == nil {
				b.Close()
				t.Fatalf("%s built", tt.doc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestDefaultStandIns: without the models, the built-in default runs on
// the energy detector and flite and says so in one line; a file that
// names Silero or Piper gets an error naming what is missing instead.
func TestDefaultStandIns(t *testing.T) {
	t.Setenv("VOICEGATE_MODELS", t.TempDir())
	core, logs := observer.New(zap.InfoLevel)
	b, err := buildStages(configs.Default().Providers, Builtin(), Deps{Log: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.stages.VAD != nil || pipeline.NameOf(b.stages.TTS) != "flite" {
		t.Errorf("without models: vad %q, tts %q; want energy and flite", b.vadName(), pipeline.NameOf(b.stages.TTS))
	}
	if got := logs.FilterMessageSnippet("offline models not found").All(); len(got) != 1 || !strings.Contains(got[0].Message, "flite for piper") || !strings.Contains(got[0].Message, "energy for silero") {
		t.Errorf("want one line naming the stand-ins, got %v", logs.All())
	}

	for _, doc := range []string{"providers: {vad: [{name: silero}]}", "providers: {tts: [{name: piper}]}"} {
		cfg := configs.Default()
		if err := configs.Parse([]byte(doc), &cfg); err != nil {
			t.Fatal(err)
		}
		b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: zap.NewNop()})
		if err == nil {
			b.Close()
			t.Errorf("%s without its model: no error", doc)
		} else if !strings.Contains(err.Error(), "scripts/models.sh") {
			t.Errorf("%s: %v, want it to say how to fetch the model", doc, err)
		}
	}
}

// TestStandInWithoutCgo: a configuration that names only providers every
// build has still starts on a build without the offline engines (make
// test-nocgo runs it with CGO_ENABLED=0): the default Silero gives way to
// the energy detector.
func TestStandInWithoutCgo(t *testing.T) {
	cfg := configs.Default()
	if err := configs.Parse([]byte("providers: {asr: [], tts: []}"), &cfg); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	b, err := buildStages(cfg.Providers, Builtin(), Deps{Log: zap.New(core)})
	if err != nil {
		t.Fatalf("buildStages: %v", err)
	}
	defer b.Close()
	fell := len(logs.FilterMessageSnippet("energy for silero").All()) == 1
	if silero.Available() == fell || (fell && b.stages.VAD != nil) {
		t.Errorf("silero built in: %v; fell back to energy: %v (vad %q)", silero.Available(), fell, b.vadName())
	}
}
