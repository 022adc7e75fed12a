package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
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

const testKey = "rt-test-key-0123456789"

var withKey = withKeys(testKey)

// mintSecret asks POST /v1/realtime/client_secrets for an ek_ key.
func mintSecret(t *testing.T, s *testServer, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.ts.URL+gateway.PathClientSecrets, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestRealtimeHandshake: the ways real clients connect — a Bearer key
// (Node), a key in a subprotocol (browsers, which must get "realtime"
// back), an ek_ key minted for a browser (once) — and the ways that fail.
func TestRealtimeHandshake(t *testing.T) {
	s := newServer(t, withKey)
	_, secret := mintSecret(t, s, testKey, "")
	ek, _ := secret["value"].(string)
	if !strings.HasPrefix(ek, "ek_") {
		t.Fatalf("client secret %v", secret)
	}
	_, secret2 := mintSecret(t, s, testKey, "")
	ek2, _ := secret2["value"].(string)
	for _, tc := range []struct {
		name   string
		dial   rtDial
		status int // HTTP status of a refused upgrade; 0: connects
		model  string
	}{
		{"bearer", rtDial{header: bearer(testKey)}, 0, "gpt-realtime"},
		{"x-api-key", rtDial{header: http.Header{"X-Api-Key": {testKey}}}, 0, "gpt-realtime"},
		{"subprotocol key", rtDial{subprotocols: []string{"realtime", "openai-insecure-api-key." + testKey, "openai-agents-sdk.0.20.0"}}, 0, "gpt-realtime"},
		{"ek subprotocol", rtDial{subprotocols: []string{"realtime", "openai-insecure-api-key." + ek}}, 0, "gpt-realtime"},
		{"ek spent", rtDial{subprotocols: []string{"realtime", "openai-insecure-api-key." + ek}}, http.StatusUnauthorized, ""},
		{"ek bearer", rtDial{header: bearer(ek2), query: "model=gpt-4o-realtime-preview"}, 0, "gpt-4o-realtime-preview"},
		{"bad key", rtDial{header: bearer("not-the-key-at-all")}, http.StatusUnauthorized, ""},
		{"bad subprotocol key", rtDial{subprotocols: []string{"realtime", "openai-insecure-api-key.wrong"}}, http.StatusUnauthorized, ""},
		{"no key", rtDial{}, http.StatusUnauthorized, ""},
		{"no model", rtDial{header: bearer(testKey), query: "x=1"}, 0, "gpt-realtime*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := s.tryRealtime(tc.dial)
			if tc.status != 0 {
				if err == nil {
					c.t = t
					c.close()
					t.Fatal("connected")
				}
				if resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("got %v, want HTTP %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			c.t = t
			defer c.close()
			if len(tc.dial.subprotocols) > 0 && c.ws.Subprotocol() != "realtime" {
				t.Errorf("subprotocol %q, want realtime", c.ws.Subprotocol())
			}
			m := c.next()
			if m.Type != realtime.EventSessionCreated || field(session(m), "model") != tc.model || field(session(m), "type") != "realtime" {
				t.Fatalf("first event %s", m.Raw)
			}
			if !strings.HasPrefix(field(session(m), "id").(string), "sess_") {
				t.Errorf("session id in %s", m.Raw)
			}
		})
	}

	t.Run("unknown model", func(t *testing.T) {
		c := s.realtime(t, rtDial{header: bearer(testKey), query: "model=whisper-1"})
		c.expectError(realtime.TypeInvalidRequest, realtime.CodeUnknownModel, "")
		select {
		case <-c.done:
		case <-time.After(waitFor):
			t.Fatal("still open")
		}
		if st := websocket.CloseStatus(c.err); st != websocket.StatusPolicyViolation {
			t.Errorf("close status %v, want 1008", st)
		}
	})
}

// TestRealtimeDialects: GA by default, the beta when the client asks with
// the header or the subprotocol; each gets its own session shape.
func TestRealtimeDialects(t *testing.T) {
	s := newServer(t, nil)
	for _, tc := range []struct {
		name string
		dial rtDial
		beta bool
	}{
		{"ga", rtDial{}, false},
		{"beta header", rtDial{header: betaHeader()}, true},
		{"beta subprotocol", rtDial{subprotocols: []string{"realtime", "openai-beta.realtime-v1"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.realtime(t, tc.dial)
			m := c.next()
			sess := session(m)
			if tc.beta {
				if sess["modalities"] == nil || sess["input_audio_format"] != "pcm16" || sess["audio"] != nil || field(sess, "turn_detection", "type") != "server_vad" {
					t.Fatalf("beta session %s", m.Raw)
				}
				if conv, _ := c.expect(realtime.EventConversationCreated); field(conv.Fields, "conversation", "id") == nil {
					t.Errorf("conversation.created %s", conv.Raw)
				}
			} else {
				if sess["modalities"] != nil || field(sess, "audio", "input", "format", "type") != "audio/pcm" || field(sess, "audio", "input", "format", "rate") != 24000.0 ||
					field(sess, "audio", "input", "turn_detection", "silence_duration_ms") != 250.0 || field(sess, "audio", "output", "voice") != "alloy" {
					t.Fatalf("GA session %s", m.Raw)
				}
			}
			res, _ := c.expect(realtime.EventVoicegateResumable)
			if res.str("resume_token") == "" || res.flag("resumed") {
				t.Errorf("resumable %s", res.Raw)
			}
			rl, _ := c.expect(realtime.EventRateLimitsUpdated)
			if l := rl.Fields["rate_limits"].([]any); len(l) != 1 || field(l[0], "name") != "requests" {
				t.Errorf("rate limits %s", rl.Raw)
			}
		})
	}
}

// TestRealtimePushToTalk: with turn_detection null the user's turn ends at
// commit, and the reply waits for response.create.
func TestRealtimePushToTalk(t *testing.T) {
	s := newServer(t, nil)
	c := s.realtime(t, rtDial{})
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime",
		"audio": map[string]any{"input": map[string]any{"turn_detection": nil, "transcription": map[string]any{"model": "x"}}}}})
	up, _ := c.expect(realtime.EventSessionUpdated)
	if td := field(session(up), "audio", "input", "turn_detection"); td != nil {
		t.Fatalf("turn detection %v after null", td)
	}
	c.send(map[string]any{"type": "input_audio_buffer.commit", "event_id": "empty"})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeCommitEmpty, "empty")

	c.appendAudio(realtime.FormatPCM, utterance(24000, 500*time.Millisecond, 200*time.Millisecond))
	c.send(map[string]any{"type": "input_audio_buffer.commit", "event_id": "c1"})
	committed, skipped := c.expect(realtime.EventCommitted)
	for _, m := range skipped {
		if m.Type == realtime.EventSpeechStarted {
			t.Errorf("speech events without turn detection: %s", m.Raw)
		}
	}
	tr, _ := c.expect(realtime.EventTranscriptionCompleted)
	if tr.str("item_id") != committed.str("item_id") || tr.str("transcript") != "hello there" {
		t.Fatalf("transcript %s for %s", tr.Raw, committed.Raw)
	}
	// No response until asked: a clear is answered first.
	c.send(map[string]any{"type": "input_audio_buffer.clear"})
	if m := c.next(); m.Type != realtime.EventCleared {
		t.Fatalf("got %s before input_audio_buffer.cleared", m.Raw)
	}
	c.send(map[string]any{"type": "response.create", "event_id": "r1"})
	created, _ := c.expect(realtime.EventResponseCreated)
	done, _ := c.response()
	if field(done.Fields, "response", "id") != field(created.Fields, "response", "id") || field(done.Fields, "response", "status") != "completed" {
		t.Fatalf("response.done %s after %s", done.Raw, created.Raw)
	}
}

// sentences has the recogniser hear three sentences, so that echo's reply
// ("You said: …") is three, each a second of tone.
func sentences(o *gateway.Options) {
	o.Stages = fastStages("one two three. four five six. seven eight nine.")
	o.Stages.TTS = &pipelinetest.Tone{Rate: 16000, PerRune: 40 * time.Millisecond}
}

// speakTurn has the user say one thing, with server_vad.
func (c *rtClient) speakTurn() {
	c.t.Helper()
	c.appendAudio(realtime.FormatPCM, utterance(24000, 600*time.Millisecond, 400*time.Millisecond))
}

// TestRealtimeCancelAndTruncate: response.cancel cuts the reply —
// response.done says cancelled, no delta of it follows — and truncate keeps
// of it what was heard: the sentences whose audio began before
// audio_end_ms.
func TestRealtimeCancelAndTruncate(t *testing.T) {
	s := newServer(t, sentences)
	c := s.realtime(t, rtDial{})
	c.send(map[string]any{"type": "response.cancel", "event_id": "nothing"})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeCancelNotActive, "nothing")

	c.speakTurn()
	first, _ := c.expect(realtime.EventAudioDelta)
	c.send(map[string]any{"type": "response.create", "event_id": "second"})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeActiveResponse, "second")
	c.send(map[string]any{"type": "response.cancel", "event_id": "cancel"})
	done, msgs := c.response()
	after := len(c.seen)
	resp := done.Fields["response"].(map[string]any)
	if resp["status"] != "cancelled" || field(resp, "status_details", "reason") != "client_cancelled" || resp["id"] != first.str("response_id") {
		t.Fatalf("response.done %s", done.Raw)
	}
	if out := resp["output"].([]any); len(out) != 1 || field(out[0], "status") != "incomplete" {
		t.Fatalf("cancelled output %v", resp["output"])
	}
	heard := c.audioBytes(append(msgs, first)) / 48 // ms at 24 kHz, 16-bit
	// Nothing of the cut response comes after its response.done.
	c.alive()
	for _, m := range c.seen[after:] {
		if m.str("response_id") == first.str("response_id") {
			t.Errorf("%s after response.done", m.Type)
		}
	}
	item := first.str("item_id")
	c.send(map[string]any{"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": heard})
	tr, _ := c.expect(realtime.EventItemTruncated)
	if tr.str("item_id") != item || int(tr.num("audio_end_ms")) != heard {
		t.Errorf("truncated %s", tr.Raw)
	}
	c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": item})
	got, _ := c.expect(realtime.EventItemRetrieved)
	words, _ := field(got.Fields, "item", "content").([]any)[0].(map[string]any)["transcript"].(string)
	if field(got.Fields, "item", "status") != "incomplete" || words == "" || !strings.HasPrefix("You said: one two three.", words) {
		t.Errorf("retrieved after truncation: %s (heard %d ms)", got.Raw, heard)
	}
}

// TestRealtimeTruncateHeard: a reply told in full, truncated where the
// client's playback stopped, keeps what was heard: whole sentences, and of
// the one playing then the words begun, by their letters.
func TestRealtimeTruncateHeard(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { sentences(o); o.PlayoutLead = -1 })
	c := s.realtime(t, rtDial{})
	c.speakTurn()
	done, _ := c.response()
	item := field(done.Fields["response"].(map[string]any)["output"].([]any)[0], "id").(string)
	// Sentence one, "You said: one two three.", is 24 runes: 960 ms.
	for _, tc := range []struct {
		endMS int
		kept  string
	}{
		{1500, "You said: one two three. four five six."},
		{950, "You said: one two three."},
		{700, "You said: one two"}, // "two" begins 14 runes in: 560 ms
		{500, "You said: one"},
		{1, "You"},
		{0, ""},
	} {
		c.send(map[string]any{"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": tc.endMS})
		c.expect(realtime.EventItemTruncated)
		c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": item})
		got, _ := c.expect(realtime.EventItemRetrieved)
		if words := field(got.Fields, "item", "content").([]any)[0].(map[string]any)["transcript"]; words != tc.kept {
			t.Errorf("truncated at %d ms: %q, want %q", tc.endMS, words, tc.kept)
		}
	}
	c.send(map[string]any{"type": "conversation.item.truncate", "event_id": "t", "item_id": "nope", "content_index": 0, "audio_end_ms": 1})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeItemNotFound, "t")
}

// TestRealtimeBargeIn: the user speaking over a reply cuts it, and
// response.done says why.
func TestRealtimeBargeIn(t *testing.T) {
	s := newServer(t, sentences)
	c := s.realtime(t, rtDial{})
	c.speakTurn()
	c.expect(realtime.EventAudioDelta)
	go c.appendAudio(realtime.FormatPCM, utterance(24000, 600*time.Millisecond, 400*time.Millisecond))
	done, msgs := c.response()
	if !inOrder(msgs, realtime.EventSpeechStarted) || field(done.Fields, "response", "status") != "cancelled" ||
		field(done.Fields, "response", "status_details", "reason") != "turn_detected" {
		t.Fatalf("response.done %s after %v", done.Raw, types(msgs))
	}
	next, _ := c.response() // the new turn's reply
	if field(next.Fields, "response", "status") != "completed" {
		t.Fatalf("second response %s", next.Raw)
	}
}

var rtWeatherTool = map[string]any{"type": "function", "name": "get_weather", "description": "weather for a city",
	"parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}}

// TestRealtimeToolCall: a tool the client defined in session.update is
// called as a function_call item (announced in progress, then complete
// with its arguments), the response ends, and the client's
// function_call_output and response.create get the model's answer from it.
func TestRealtimeToolCall(t *testing.T) {
	s := newServer(t, nil)
	c := s.realtime(t, rtDial{})
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "tools": []any{rtWeatherTool}}})
	up, _ := c.expect(realtime.EventSessionUpdated)
	if tools := session(up)["tools"].([]any); len(tools) != 1 || field(tools[0], "name") != "get_weather" {
		t.Fatalf("tools %v", session(up)["tools"])
	}
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "what is the weather in paris"}}}})
	c.expect(realtime.EventItemAdded)
	c.send(map[string]any{"type": "response.create"})
	done, msgs := c.response()
	var added, args, itemDone message
	for _, m := range msgs {
		switch m.Type {
		case realtime.EventOutputItemAdded:
			added = m
		case realtime.EventFunctionArgumentsDone:
			args = m
		case realtime.EventOutputItemDone:
			itemDone = m
		case realtime.EventAudioDelta, realtime.EventAudioTranscriptDelta:
			t.Errorf("the tool call's response spoke: %s", m.Raw)
		}
	}
	if field(added.Fields, "item", "type") != "function_call" || field(added.Fields, "item", "status") != "in_progress" || field(added.Fields, "item", "name") != "get_weather" {
		t.Fatalf("output_item.added %s", added.Raw)
	}
	call := field(itemDone.Fields, "item", "call_id")
	if args.str("arguments") != `{"city":"paris"}` || args.str("name") != "get_weather" || args.Fields["call_id"] != call || call == nil {
		t.Fatalf("arguments %s, item %s", args.Raw, itemDone.Raw)
	}
	if field(itemDone.Fields, "item", "status") != "completed" || field(itemDone.Fields, "item", "arguments") != `{"city":"paris"}` {
		t.Fatalf("output_item.done %s", itemDone.Raw)
	}
	out := field(done.Fields, "response", "output").([]any)
	if field(done.Fields, "response", "status") != "completed" || len(out) != 1 || field(out[0], "type") != "function_call" {
		t.Fatalf("response.done %s", done.Raw)
	}

	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "function_call_output", "call_id": call, "output": "sunny in paris"}})
	added2, _ := c.expect(realtime.EventItemAdded)
	if field(added2.Fields, "item", "type") != "function_call_output" || field(added2.Fields, "item", "call_id") != call {
		t.Fatalf("output item %s", added2.Raw)
	}
	c.send(map[string]any{"type": "response.create"})
	done2, _ := c.response()
	words := field(done2.Fields, "response", "output").([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)["transcript"]
	if w, _ := words.(string); !strings.Contains(strings.ToLower(w), "sunny in paris") {
		t.Fatalf("answer %q", words)
	}
	// The call is an item of its own.
	c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": field(itemDone.Fields, "item", "id")})
	got, _ := c.expect(realtime.EventItemRetrieved)
	if field(got.Fields, "item", "type") != "function_call" || field(got.Fields, "item", "call_id") != call {
		t.Errorf("retrieved call %s", got.Raw)
	}
}

// TestRealtimeBadInput: what a client gets wrong is told as an
// invalid_request_error naming its event_id, and the connection goes on.
func TestRealtimeBadInput(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.Realtime.MaxAppendBytes, o.Realtime.MaxEventBytes = 4096, 8192
	})
	c := s.realtime(t, rtDial{})
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, tc := range []struct {
		name, msg, code, eventID string
	}{
		{"unknown type", `{"type":"no.such.event","event_id":"e1"}`, realtime.CodeUnknownEvent, "e1"},
		{"a server event", `{"type":"response.output_audio.delta","event_id":"e2","delta":"AAAA"}`, realtime.CodeUnknownEvent, "e2"},
		{"not JSON", `{"type": "input_audio_buffer.append", `, realtime.CodeInvalidJSON, ""},
		{"append over the limit", `{"type":"input_audio_buffer.append","event_id":"big","audio":"` + b64(4098) + `"}`, realtime.CodeEventTooLarge, "big"},
		{"frame over the limit", `{"type":"input_audio_buffer.append","event_id":"bigger","audio":"` + b64(15000) + `"}`, realtime.CodeEventTooLarge, "bigger"},
		{"frame over the limit, id last", `{"type":"input_audio_buffer.append","audio":"` + b64(15000) + `","event_id":"last"}`, realtime.CodeEventTooLarge, "last"},
		{"not base64", `{"type":"input_audio_buffer.append","event_id":"b64","audio":"%%% not base64 %%%"}`, realtime.CodeInvalidAudio, "b64"},
		{"odd PCM", `{"type":"input_audio_buffer.append","event_id":"odd","audio":"` + b64(3) + `"}`, realtime.CodeInvalidAudio, "odd"},
		{"unknown format", `{"type":"session.update","event_id":"fmt","session":{"type":"realtime","audio":{"input":{"format":{"type":"audio/flac"}}}}}`, realtime.CodeInvalidValue, "fmt"},
		{"unknown field", `{"type":"session.update","event_id":"f","session":{"type":"realtime","colour":"red"}}`, realtime.CodeUnknownParameter, "f"},
		{"out of band", `{"type":"response.create","event_id":"oob","response":{"conversation":"none"}}`, realtime.CodeUnsupported, "oob"},
		{"unknown item", `{"type":"conversation.item.delete","event_id":"del","item_id":"item_999"}`, realtime.CodeItemNotFound, "del"},
		{"taken item id", `{"type":"conversation.item.create","event_id":"own","item":{"id":"item_1","type":"message","role":"user","content":[{"type":"input_text","text":"x"}]}}`, realtime.CodeInvalidValue, "own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.sendText(tc.msg)
			c.expectError(realtime.TypeInvalidRequest, tc.code, tc.eventID)
			c.alive()
		})
	}
	c.t = t
	// A binary message is no Realtime event.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c.ws.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3, 4})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeInvalidJSON, "")
	c.alive()
	// The session still works: the format did not change.
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "instructions": "be brief"}})
	up, _ := c.expect(realtime.EventSessionUpdated)
	if field(session(up), "audio", "input", "format", "type") != "audio/pcm" || field(session(up), "instructions") != "be brief" {
		t.Errorf("session after the bad input %s", up.Raw)
	}
	// Beyond twice the frame limit the library closes the connection.
	// (The server may close before the write is done.)
	c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"input_audio_buffer.append","audio":"`+b64(30000)+`"}`))
	<-c.done
	if st := websocket.CloseStatus(c.err); st != websocket.StatusMessageTooBig {
		t.Errorf("close %v after a huge message, want 1009", st)
	}
}

// TestRealtimeResume: voicegate's extension. The client reconnecting with
// ?voicegate_resume= gets its session back — its settings, its
// conversation replayed as items — and a new token; the old one is spent.
func TestRealtimeResume(t *testing.T) {
	s := newServer(t, withKey)
	c := s.realtime(t, rtDial{header: bearer(testKey)})
	created := c.next()
	res, _ := c.expect(realtime.EventVoicegateResumable)
	token := res.str("resume_token")
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "instructions": "remember this"}})
	c.expect(realtime.EventSessionUpdated)
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "good morning"}}}})
	user, _ := c.expect(realtime.EventItemAdded)
	c.send(map[string]any{"type": "response.create"})
	done, _ := c.response()
	reply := field(done.Fields["response"].(map[string]any)["output"].([]any)[0], "id")
	c.close()

	// With the key and the token.
	c2 := s.realtime(t, rtDial{header: bearer(testKey), query: "model=gpt-realtime&" + gateway.ResumeQuery + "=" + token})
	again := c2.next()
	if field(session(again), "id") != field(session(created), "id") || field(session(again), "instructions") != "remember this" {
		t.Fatalf("resumed session %s, was %s", again.Raw, created.Raw)
	}
	res2, skipped := c2.expect(realtime.EventVoicegateResumable)
	if !res2.flag("resumed") || res2.str("resume_token") == token || res2.str("resume_token") == "" {
		t.Fatalf("resumable %s", res2.Raw)
	}
	var replayed []any
	for range 2 {
		m, _ := c2.expect(realtime.EventItemAdded)
		replayed = append(replayed, field(m.Fields, "item", "id"))
	}
	if len(skipped) != 0 || replayed[0] != field(user.Fields, "item", "id") || replayed[1] != reply {
		t.Fatalf("replayed %v, want %v and %v", replayed, field(user.Fields, "item", "id"), reply)
	}
	c2.close()

	// The spent token starts a new session instead, and says so.
	c3 := s.realtime(t, rtDial{header: bearer(testKey), query: gateway.ResumeQuery + "=" + token})
	c3.expectError(realtime.TypeInvalidRequest, realtime.CodeResumeFailed, "")
	c3.close()
	if _, resp, err := s.tryRealtime(rtDial{query: gateway.ResumeQuery + "=" + token}); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a spent token alone connected: %v", err)
	}
	// The new token alone stands in for the key, for this session; here
	// in the header.
	h := http.Header{}
	h.Set(gateway.ResumeHeader, res2.str("resume_token"))
	c4 := s.realtime(t, rtDial{header: h})
	if m := c4.next(); field(session(m), "id") != field(session(created), "id") {
		t.Fatalf("resumed with the token alone: %s", m.Raw)
	}
	res4, _ := c4.expect(realtime.EventVoicegateResumable)
	c4.close()

	// A Realtime session is resumed on /v1/realtime only.
	ws := s.dial(t, dialOpts{header: bearer(testKey)})
	ws.sendJSON(map[string]any{"type": "session.start", "resume_token": res4.str("resume_token")})
	ws.expectError(protocol.CodeResumeFailed)
	ws.close()
}

// TestRealtimeClientSecrets: an ek_ key minted with the API key (and with
// the session's settings) opens one connection, which starts with them.
func TestRealtimeClientSecrets(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { withKey(o); o.Realtime.MaxClientSecrets = 3 })
	if status, _ := mintSecret(t, s, "", ""); status != http.StatusUnauthorized {
		t.Errorf("no key: HTTP %d", status)
	}
	for _, tc := range []struct {
		body, code string
	}{
		{`{"session":{"type":"realtime","colour":"red"}}`, realtime.CodeUnknownParameter},
		{`{"expires_after":{"anchor":"created_at","seconds":99999}}`, realtime.CodeInvalidValue},
		{`{"session":{"type":"realtime","model":"whisper-1"}}`, realtime.CodeUnknownModel},
		{`{"expires":1}`, realtime.CodeInvalidValue},
	} {
		status, out := mintSecret(t, s, testKey, tc.body)
		if status != http.StatusBadRequest || field(out, "error", "code") != tc.code {
			t.Errorf("%s: HTTP %d %v, want 400 %s", tc.body, status, out, tc.code)
		}
	}
	status, out := mintSecret(t, s, testKey, `{"expires_after":{"anchor":"created_at","seconds":60},"session":{"type":"realtime","instructions":"from the backend","audio":{"output":{"voice":"verse"}}}}`)
	ek, _ := out["value"].(string)
	if status != http.StatusOK || !strings.HasPrefix(ek, "ek_") || field(out, "session", "instructions") != "from the backend" {
		t.Fatalf("HTTP %d %v", status, out)
	}
	if at := int64(out["expires_at"].(float64)); at < time.Now().Add(50*time.Second).Unix() || at > time.Now().Add(70*time.Second).Unix() {
		t.Errorf("expires_at %d", at)
	}
	c := s.realtime(t, rtDial{subprotocols: []string{"realtime", "openai-insecure-api-key." + ek}})
	m := c.next()
	if field(session(m), "instructions") != "from the backend" || field(session(m), "audio", "output", "voice") != "verse" || field(session(m), "id") != field(out, "session", "id") {
		t.Fatalf("session %s, minted %v", m.Raw, out["session"])
	}
	for range 3 {
		mintSecret(t, s, testKey, "")
	}
	if status, _ := mintSecret(t, s, testKey, ""); status != http.StatusTooManyRequests {
		t.Errorf("over the cap: HTTP %d", status)
	}
}

// capture is a language model that records the prompts it is given and
// answers as echo does.
type capture struct {
	pipeline.Generator
	mu      sync.Mutex
	prompts [][]pipeline.Message
}

func (g *capture) Generate(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
	g.mu.Lock()
	g.prompts = append(g.prompts, slices.Clone(msgs))
	g.mu.Unlock()
	return g.Generator.Generate(ctx, msgs, emit)
}

func (g *capture) last() []pipeline.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.prompts[len(g.prompts)-1]
}

// TestRealtimeTextItems: typed items join the conversation without a
// reply; response.create answers them, with out-of-band instructions in
// place of the session's for that response only; written replies when the
// client asks for text.
func TestRealtimeTextItems(t *testing.T) {
	llm := &capture{Generator: echo.New(echo.Config{})}
	s := newServer(t, func(o *gateway.Options) { o.Stages.LLM = llm })
	c := s.realtime(t, rtDial{})
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "instructions": "be kind"}})
	c.expect(realtime.EventSessionUpdated)
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "good morning"}}}})
	added, _ := c.expect(realtime.EventItemAdded)
	if field(added.Fields, "item", "content").([]any)[0].(map[string]any)["text"] != "good morning" || added.Fields["previous_item_id"] != nil {
		t.Fatalf("item %s", added.Raw)
	}
	c.send(map[string]any{"type": "response.create", "response": map[string]any{"instructions": "speak like a pirate", "metadata": map[string]any{"k": "v"}}})
	done, _ := c.response()
	if p := llm.last(); p[0].Role != pipeline.RoleSystem || p[0].Content != "speak like a pirate" || p[len(p)-1].Content != "good morning" {
		t.Errorf("prompt %+v", p)
	}
	if field(done.Fields, "response", "metadata", "k") != "v" {
		t.Errorf("metadata %s", done.Raw)
	}
	// A written reply, and the session's own instructions again.
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
		"content": []any{map[string]any{"type": "input_text", "text": "and now"}}}})
	c.expect(realtime.EventItemAdded)
	c.send(map[string]any{"type": "response.create", "response": map[string]any{"output_modalities": []string{"text"}}})
	done2, msgs := c.response()
	if p := llm.last(); p[0].Content != "be kind" {
		t.Errorf("system prompt %q after an out-of-band response", p[0].Content)
	}
	if c.audioBytes(msgs) != 0 || !inOrder(msgs, realtime.EventTextDelta, realtime.EventTextDone) {
		t.Errorf("text response %v", types(msgs))
	}
	part := field(done2.Fields, "response", "output").([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)
	if part["type"] != "output_text" || part["text"] != "You said: and now." {
		t.Errorf("text reply %v", part)
	}
	// The conversation holds both exchanges.
	c.send(map[string]any{"type": "conversation.item.retrieve", "item_id": field(added.Fields, "item", "id")})
	c.expect(realtime.EventItemRetrieved)
	c.send(map[string]any{"type": "conversation.item.delete", "item_id": field(added.Fields, "item", "id")})
	if del, _ := c.expect(realtime.EventItemDeleted); del.Fields["item_id"] != field(added.Fields, "item", "id") {
		t.Errorf("deleted %s", del.Raw)
	}
	c.send(map[string]any{"type": "conversation.item.retrieve", "event_id": "gone", "item_id": field(added.Fields, "item", "id")})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeItemNotFound, "gone")
}

// TestRealtimeDrain: Shutdown tells a Realtime client, in its own error
// shape, and closes with 1012.
func TestRealtimeDrain(t *testing.T) {
	s := newServer(t, nil)
	c := s.realtime(t, rtDial{})
	c.expect(realtime.EventSessionCreated)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	go s.srv.Shutdown(ctx)
	c.expectError(realtime.TypeServer, "shutting_down", "")
	<-c.done
	if st := websocket.CloseStatus(c.err); st != websocket.StatusServiceRestart {
		t.Errorf("close %v, want 1012", st)
	}
}

// TestRealtimeAppendLimit: at the default limits, an append of 15 MiB and
// 2 bytes of audio (20 MiB of base64) is refused with its event_id, and
// the connection goes on.
func TestRealtimeAppendLimit(t *testing.T) {
	s := newServer(t, nil)
	c := s.realtime(t, rtDial{})
	c.sendText(`{"type":"input_audio_buffer.append","event_id":"evt_big_1","audio":"` + base64.StdEncoding.EncodeToString(make([]byte, 15<<20+2)) + `"}`)
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeEventTooLarge, "evt_big_1")
	c.alive()
}

// voiced is a synthesizer with voices: each a tone of its own length per
// rune, so that a reply shows which voice spoke it.
type voiced struct {
	*pipelinetest.Tone
	voices map[string]time.Duration
}

func (v *voiced) WithVoice(name string) (pipeline.Synthesizer, error) {
	per, ok := v.voices[name]
	if !ok {
		return nil, fmt.Errorf("no voice %q", name)
	}
	t := *v.Tone
	t.PerRune = per
	return &t, nil
}

// TestRealtimeVoices: audio.output.voice picks the synthesizer's voice of
// that name; a name it does not have speaks in its own voice, reported as
// asked.
func TestRealtimeVoices(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.Stages.TTS = &voiced{Tone: &pipelinetest.Tone{Rate: 16000, PerRune: 10 * time.Millisecond}, voices: map[string]time.Duration{"slow": 30 * time.Millisecond}}
	})
	c := s.realtime(t, rtDial{})
	reply := func(voice string) int {
		t.Helper()
		c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "audio": map[string]any{"output": map[string]any{"voice": voice}}}})
		up, _ := c.expect(realtime.EventSessionUpdated)
		if got := field(session(up), "audio", "output", "voice"); got != voice {
			t.Fatalf("voice %v, want %s", got, voice)
		}
		c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "message", "role": "user",
			"content": []any{map[string]any{"type": "input_text", "text": "hi"}}}})
		c.send(map[string]any{"type": "response.create"})
		_, msgs := c.response()
		return c.audioBytes(msgs)
	}
	own, slow, unknown := reply("alloy"), reply("slow"), reply("marin")
	// "You said: hi." is 13 runes: 130 ms in its own voice, 390 ms slow.
	if slow < 2*own || unknown > own*11/10 || unknown < own*9/10 {
		t.Errorf("reply audio: own voice %d bytes, slow %d, unknown voice %d", own, slow, unknown)
	}
}

// TestRealtimeWithoutSynthesizer: a server without speech synthesis
// writes its replies, and says so when asked to speak.
func TestRealtimeWithoutSynthesizer(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) { o.Stages.TTS = nil })
	c := s.realtime(t, rtDial{})
	created := c.next()
	if m := field(session(created), "output_modalities").([]any); len(m) != 1 || m[0] != "text" {
		t.Fatalf("modalities %v", m)
	}
	c.send(map[string]any{"type": "session.update", "event_id": "speak", "session": map[string]any{"type": "realtime", "output_modalities": []string{"audio"}}})
	c.expectError(realtime.TypeInvalidRequest, realtime.CodeNotAvailable, "speak")
	c.speakTurn()
	done, msgs := c.response()
	if !inOrder(msgs, realtime.EventTextDelta, realtime.EventTextDone) || field(done.Fields, "response", "status") != "completed" {
		t.Fatalf("written reply %v", types(msgs))
	}
}

// failingASR recognises every other utterance: the first's Finish fails.
type failingASR struct {
	pipeline.Recognizer
	calls atomic.Int32
}

func (f *failingASR) Start(ctx context.Context) (pipeline.Utterance, error) {
	u, err := f.Recognizer.Start(ctx)
	if f.calls.Add(1)%2 == 1 {
		return failingUtterance{u}, err
	}
	return u, err
}

type failingUtterance struct{ pipeline.Utterance }

func (failingUtterance) Finish(context.Context) (string, error) {
	return "", fmt.Errorf("recogniser at 10.0.0.7 down: %w", pipeline.ErrUnavailable)
}

// TestRealtimeProviderFailures: the recogniser failing fails the user
// item's transcription; the model failing ends its response "failed" and
// says why; the session goes on.
func TestRealtimeProviderFailures(t *testing.T) {
	calls := 0
	gen := echo.New(echo.Config{})
	s := newServer(t, func(o *gateway.Options) {
		o.Stages.ASR = &failingASR{Recognizer: o.Stages.ASR}
		o.Stages.LLM = pipeline.GeneratorFunc(func(ctx context.Context, msgs []pipeline.Message, emit func(string) error) error {
			calls++ // turns run one at a time
			if calls == 1 {
				return fmt.Errorf("upstream said 429: %w", pipeline.ErrRateLimited)
			}
			return gen.Generate(ctx, msgs, emit)
		})
	})
	c := s.realtime(t, rtDial{})
	c.send(map[string]any{"type": "session.update", "session": map[string]any{"type": "realtime", "audio": map[string]any{"input": map[string]any{"transcription": map[string]any{"model": "x"}}}}})
	c.expect(realtime.EventSessionUpdated)
	c.speakTurn()
	failed, _ := c.expect(realtime.EventTranscriptionFailed)
	if field(failed.Fields, "error", "code") != "provider_unavailable" || strings.Contains(string(failed.Raw), "10.0.0.7") {
		t.Fatalf("transcription failed %s", failed.Raw)
	}
	c.alive()

	c.speakTurn() // heard this time; the model fails
	e := c.expectError(realtime.TypeServer, "provider_rate_limited", "")
	if strings.Contains(string(e.Raw), "429") {
		t.Errorf("provider detail leaked: %s", e.Raw)
	}
	done, _ := c.response()
	if field(done.Fields, "response", "status") != "failed" || field(done.Fields, "response", "status_details", "error", "code") != "provider_rate_limited" {
		t.Fatalf("response.done %s", done.Raw)
	}
	c.send(map[string]any{"type": "response.create"})
	if done, _ := c.response(); field(done.Fields, "response", "status") != "completed" {
		t.Fatalf("next response %s", done.Raw)
	}
}
