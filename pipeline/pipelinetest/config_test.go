package pipelinetest_test

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// decode decodes src strictly, the way the composition root decodes a
// provider's settings.
func decode(t *testing.T, src string, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestScriptedFromConfig(t *testing.T) {
	var c pipelinetest.ScriptedConfig
	decode(t, "transcripts: [good morning, stop]\nlatency: 20ms\npartial_every: 100ms\n", &c)
	s := pipelinetest.NewScriptedFrom(c)
	want := &pipelinetest.Scripted{Transcripts: []string{"good morning", "stop"}, Latency: 20 * time.Millisecond, PartialEvery: 100 * time.Millisecond}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if s.Name() != "scripted" {
		t.Errorf("Name() = %q", s.Name())
	}

	u, err := pipelinetest.NewScriptedFrom(pipelinetest.ScriptedConfig{}).Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got, err := u.Finish(context.Background()); err != nil || got != pipelinetest.DefaultTranscript {
		t.Errorf("zero config heard %q, %v; want %q", got, err, pipelinetest.DefaultTranscript)
	}
}

func TestToneFromConfig(t *testing.T) {
	var c pipelinetest.ToneConfig
	decode(t, "rate: 24000\nlatency: 30ms\nper_rune: 10ms\nrealtime: true\n", &c)
	tone := pipelinetest.NewToneFrom(c)
	want := &pipelinetest.Tone{Rate: 24000, Latency: 30 * time.Millisecond, PerRune: 10 * time.Millisecond, Realtime: true}
	if *tone != *want {
		t.Errorf("got %+v, want %+v", *tone, *want)
	}
	if tone.Name() != "tone" {
		t.Errorf("Name() = %q", tone.Name())
	}
}
