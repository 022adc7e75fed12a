package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/gateway/realtime"
)

// betaHeader is what beta clients send.
func betaHeader() http.Header {
	h := http.Header{}
	h.Set("OpenAI-Beta", "realtime=v1")
	return h
}

func encodeAudio(f realtime.Format, s []int16) []byte {
	switch f {
	case realtime.FormatPCMU:
		return g711.EncodeMuLaw(nil, s)
	case realtime.FormatPCMA:
		return g711.EncodeALaw(nil, s)
	}
	return audio.EncodePCM16(nil, s)
}

// TestRealtimeSpokenTurn: audio appended in 20 ms chunks becomes a turn,
// told as the Realtime API tells it — speech started and stopped, the
// buffer committed into a user item, its transcription, then the whole
// response lifecycle with audio — in both dialects, every event with an
// event_id and every delta placed in its response.
func TestRealtimeSpokenTurn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		header  http.Header
		update  map[string]any
		format  realtime.Format
		outRate int
	}{
		{"ga", nil, map[string]any{"type": "realtime", "audio": map[string]any{"input": map[string]any{"transcription": map[string]any{"model": "whisper-1"}}}}, realtime.FormatPCM, 24000},
		{"beta", betaHeader(), map[string]any{"input_audio_transcription": map[string]any{"model": "whisper-1"}}, realtime.FormatPCM, 24000},
		{"ga μ-law", nil, map[string]any{"type": "realtime", "audio": map[string]any{
			"input":  map[string]any{"format": map[string]any{"type": "audio/pcmu"}, "transcription": map[string]any{"model": "whisper-1"}},
			"output": map[string]any{"format": map[string]any{"type": "audio/pcmu"}}}}, realtime.FormatPCMU, 8000},
		{"beta a-law", betaHeader(), map[string]any{"input_audio_format": "g711_alaw", "output_audio_format": "g711_alaw",
			"input_audio_transcription": map[string]any{"model": "whisper-1"}}, realtime.FormatPCMA, 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, nil)
			c := s.realtime(t, rtDial{header: tc.header})
			created := c.next()
			if created.Type != realtime.EventSessionCreated {
				t.Fatalf("first event %s", created.Raw)
			}
			c.send(map[string]any{"type": "session.update", "event_id": "u1", "session": tc.update})
			c.expect(realtime.EventSessionUpdated)

			c.appendAudio(tc.format, utterance(tc.format.Rate(), 600*time.Millisecond, 400*time.Millisecond))
			done, msgs := c.response()
			msgs = append(msgs, done)
			want := []string{
				realtime.EventSpeechStarted, realtime.EventSpeechStopped, realtime.EventCommitted, c.name(realtime.EventItemAdded),
				realtime.EventTranscriptionCompleted, realtime.EventResponseCreated, realtime.EventOutputItemAdded,
				realtime.EventContentPartAdded, c.name(realtime.EventAudioTranscriptDelta), c.name(realtime.EventAudioDelta),
				c.name(realtime.EventAudioDone), c.name(realtime.EventAudioTranscriptDone), realtime.EventContentPartDone,
				realtime.EventOutputItemDone, realtime.EventResponseDone,
			}
			if !inOrder(msgs, want...) {
				t.Fatalf("events %v\nwant in order %v", types(msgs), want)
			}
			var user, reply string
			for _, m := range msgs {
				switch m.Type {
				case realtime.EventSpeechStarted:
					user = m.str("item_id")
				case realtime.EventTranscriptionCompleted:
					if m.str("transcript") != "hello there" || m.str("item_id") != user {
						t.Errorf("transcription %s (user item %s)", m.Raw, user)
					}
				case realtime.EventOutputItemAdded:
					reply = field(m.Fields, "item", "id").(string)
					if field(m.Fields, "item", "status") != "in_progress" {
						t.Errorf("output item added %s", m.Raw)
					}
				case c.name(realtime.EventItemAdded):
					if field(m.Fields, "item", "role") == "user" && field(m.Fields, "item", "content") == nil {
						t.Errorf("user item without content: %s", m.Raw)
					}
				}
			}
			if user == "" || reply == "" || user == reply {
				t.Fatalf("user item %q, reply item %q", user, reply)
			}
			resp := done.Fields["response"].(map[string]any)
			out := resp["output"].([]any)
			transcriptKey := "transcript"
			if resp["status"] != "completed" || len(out) != 1 || field(out[0], "id") != reply || field(out[0], "status") != "completed" {
				t.Fatalf("response.done %s", done.Raw)
			}
			part := field(out[0], "content").([]any)[0]
			wantPart := "output_audio"
			if c.dialect == realtime.Beta {
				wantPart = "audio"
			}
			if field(part, "type") != wantPart || field(part, transcriptKey) != "You said: hello there." {
				t.Errorf("reply content %v", part)
			}
			// The reply's 22 runes of tone, 220 ms, in the output format.
			got := c.audioBytes(msgs)
			f := audio.Format{SampleRate: tc.outRate, Channels: 1}
			wantBytes := f.Samples(220*time.Millisecond) * tc.format.BytesPerSample()
			if got < wantBytes*95/100 || got > wantBytes*105/100 {
				t.Errorf("%d bytes of reply audio, want about %d", got, wantBytes)
			}
			if usage := field(resp, "usage", "voicegate"); field(usage, "output_audio_seconds").(float64) < 0.2 || field(usage, "input_audio_seconds").(float64) < 0.6 {
				t.Errorf("usage %v", resp["usage"])
			}

			// As agents-realtime does after the transcript: the user item.
			c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": user})
			got2, _ := c.expect(realtime.EventItemRetrieved)
			if field(got2.Fields, "item", "content").([]any)[0].(map[string]any)["transcript"] != "hello there" {
				t.Errorf("retrieved %s", got2.Raw)
			}
		})
	}
}
