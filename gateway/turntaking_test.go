package gateway_test

import (
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
)

// TestFalseInterruptionOverWebSocket: an "mm-hm" over a reply reaches the
// client as response.paused, then response.resumed, of the reply's turn;
// the reply then completes whole, and neither a speech.* message nor a
// turn of the backchannel's reaches the client or the history.
func TestFalseInterruptionOverWebSocket(t *testing.T) {
	const said = "one two three. four five six seven. eight nine ten eleven."
	s := newServer(t, func(o *gateway.Options) {
		o.Stages = bargeInStages(10*time.Millisecond, said, "mm-hm")
	})
	c := s.dial(t, dialOpts{})
	st := c.start(nil)
	c.speak(16000, 600*time.Millisecond)
	c.expect("binary") // the reply is playing
	c.sendPCM(16000, pipelinetest.Concat(pipelinetest.Voice(600*time.Millisecond, 16000), pipelinetest.Silence(500*time.Millisecond, 16000)))

	paused, before := c.expect(protocol.TypeResponsePaused)
	resumed, between := c.expect(protocol.TypeResponseResumed)
	done, after := c.expect(protocol.TypeResponseDone)
	for _, m := range append(append(before, between...), after...) {
		switch m.Type {
		case protocol.TypeSpeechStarted, protocol.TypeSpeechStopped, protocol.TypeTranscriptPartial, protocol.TypeTranscriptFinal, protocol.TypeResponseCancelled:
			t.Fatalf("%s over the paused reply: the backchannel is no turn", m)
		}
	}
	if paused.num("turn") != 1 || resumed.num("turn") != 1 {
		t.Fatalf("paused %s, resumed %s: want the reply's turn, 1", paused.Raw, resumed.Raw)
	}
	const reply = "You said: " + said
	if done.num("turn") != 1 || done.str("text") != reply {
		t.Fatalf("response.done %s, want the whole reply %q", done.Raw, reply)
	}
	c.expect(protocol.TypeTurnLatency)
	c.close()
	checkHistory(t, s, st.ResumeToken, []protocol.HistoryEntry{{Role: "user", Text: said}, {Role: "assistant", Text: reply}})
}

// TestBargeInAfterPause: words over a reply pause it, then cut it, in that
// order on the wire.
func TestBargeInAfterPause(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		o.Stages = bargeInStages(10*time.Millisecond, "one two three. four five six seven. eight nine ten eleven.", "stop right there")
	})
	c := s.dial(t, dialOpts{})
	defer c.close()
	c.start(nil)
	c.speak(16000, 600*time.Millisecond)
	c.expect("binary")
	c.sendPCM(16000, pipelinetest.Concat(pipelinetest.Voice(800*time.Millisecond, 16000), pipelinetest.Silence(400*time.Millisecond, 16000)))
	paused, _ := c.expect(protocol.TypeResponsePaused)
	started, _ := c.expect(protocol.TypeSpeechStarted)
	cancelled, between := c.expect(protocol.TypeResponseCancelled)
	for _, m := range between {
		if m.Type == protocol.TypeResponseResumed {
			t.Fatalf("a reply cut by a barge-in was resumed: %v", between)
		}
	}
	if paused.num("turn") != 1 || started.num("turn") != 2 || cancelled.str("reason") != "barge_in" {
		t.Fatalf("paused %s, speech.started %s, response.cancelled %s", paused.Raw, started.Raw, cancelled.Raw)
	}
	if m, _ := c.expect(protocol.TypeTranscriptFinal); m.str("text") != "stop right there" {
		t.Fatalf("the barge-in's transcript %s", m.Raw)
	}
}

// TestRealtimeBackchannel: an "mm-hm" over a reply is not told to a
// Realtime client (whose SDKs cancel the response on speech_started), and
// the response completes.
func TestRealtimeBackchannel(t *testing.T) {
	s := newServer(t, func(o *gateway.Options) {
		sentences(o)
		o.Stages.ASR = &pipelinetest.Scripted{Transcripts: []string{"one two three. four five six. seven eight nine.", "mm-hm"},
			Latency: 20 * time.Millisecond, PartialEvery: 100 * time.Millisecond}
	})
	c := s.realtime(t, rtDial{})
	c.speakTurn()
	c.expect(realtime.EventAudioDelta)
	go c.appendAudio(realtime.FormatPCM, utterance(24000, 600*time.Millisecond, 500*time.Millisecond))
	done, msgs := c.response()
	for _, m := range msgs {
		if m.Type == realtime.EventSpeechStarted || m.Type == realtime.EventSpeechStopped {
			t.Fatalf("%s over the reply: the backchannel is no turn (%v)", m.Type, types(msgs))
		}
	}
	if status := field(done.Fields, "response", "status"); status != "completed" {
		t.Fatalf("response.done %s after %v", done.Raw, types(msgs))
	}
}
