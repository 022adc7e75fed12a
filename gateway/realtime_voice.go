package gateway

import (
	"context"
	"fmt"

	"github.com/voicegate/voicegate/pipeline"
)

// rtVoices is a Realtime session's synthesizer: the operator's, offering
// its voices by name (audio.output.voice names one), and one more that
// says nothing, for replies a client wants written only
// (output_modalities ["text"]): Session.SetVoice then switches between
// them turn by turn, without a session of its own for text.
type rtVoices struct {
	pipeline.Synthesizer
}

var _ pipeline.Voiced = (*rtVoices)(nil)

// rtMute is the voice of written replies. No client can name it: a
// Realtime voice is printable (realtime.Decoder refuses others).
const rtMute = "\x00text"

// Name is the synthesizer's own.
func (v *rtVoices) Name() string { return pipeline.NameOf(v.Synthesizer) }

// WithVoice returns the synthesizer speaking in voice, or the mute one.
func (v *rtVoices) WithVoice(voice string) (pipeline.Synthesizer, error) {
	if voice == rtMute {
		return mute{v.Synthesizer}, nil
	}
	if vv, ok := v.Synthesizer.(pipeline.Voiced); ok {
		return vv.WithVoice(voice)
	}
	return nil, fmt.Errorf("%s speaks in one voice", pipeline.NameOf(v.Synthesizer))
}

// mute synthesizes nothing: a reply's words reach the client as text, and
// no audio is made or paced.
type mute struct {
	pipeline.Synthesizer
}

// Name is the synthesizer's own, with ":text".
func (m mute) Name() string { return pipeline.NameOf(m.Synthesizer) + ":text" }

// Synthesize emits nothing.
func (mute) Synthesize(ctx context.Context, _ string, _ func([]int16) error) error { return ctx.Err() }
