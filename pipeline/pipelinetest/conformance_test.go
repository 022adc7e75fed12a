package pipelinetest_test

import (
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

func TestToneConforms(t *testing.T) {
	pipelinetest.TestSynthesizer(t, &pipelinetest.Tone{Rate: 24000})
	pipelinetest.TestSynthesizer(t, &pipelinetest.Tone{Realtime: true, PerRune: 20 * time.Millisecond})
}

func TestEchoConforms(t *testing.T) {
	pipelinetest.TestGenerator(t, &pipelinetest.Echo{})
	pipelinetest.TestGenerator(t, &pipelinetest.Echo{FirstToken: 5 * time.Millisecond, PerToken: time.Millisecond})
}
