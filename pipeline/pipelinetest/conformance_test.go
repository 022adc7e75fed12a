package pipelinetest_test

import (
	"testing"
	"time"

	"github.com/voicegate/voicegate/pipeline/conformance"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

func TestToneConforms(t *testing.T) {
	for _, tone := range []*pipelinetest.Tone{
		{Rate: 24000},
		{Realtime: true, PerRune: 20 * time.Millisecond},
	} {
		if err := conformance.TestSynthesizer(t.Context(), tone); err != nil {
			t.Errorf("%+v:\n%v", *tone, err)
		}
	}
}
