package pipeline_test

import (
	"testing"

	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// named gives a Generator a name.
type named struct {
	name string
	pipeline.Generator
}

func (n named) Name() string { return n.name }

func TestNameOf(t *testing.T) {
	var noTTS pipeline.Synthesizer
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, ""},
		{"nil interface", noTTS, ""},
		{"named", &pipelinetest.Echo{}, "echo"},
		{"func adapter", pipeline.GeneratorFunc(nil), "pipeline.GeneratorFunc"},
		{"empty name", named{"", &pipelinetest.Echo{}}, "pipeline_test.named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pipeline.NameOf(tt.v); got != tt.want {
				t.Fatalf("NameOf = %q, want %q", got, tt.want)
			}
		})
	}
}
