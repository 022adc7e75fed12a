package gateway_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/realtime"
)

// turnLog records the turns a gateway traces.
type turnLog struct {
	mu    sync.Mutex
	turns []gateway.FinishedTurn
}

func (l *turnLog) TraceTurn(ft gateway.FinishedTurn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.turns = append(l.turns, ft)
}

func (l *turnLog) get() []gateway.FinishedTurn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]gateway.FinishedTurn(nil), l.turns...)
}

// TestTurnTracerEveryProtocol: each protocol tells the TurnTracer of each
// finished turn, with its session, its protocol and the trace's times.
func TestTurnTracerEveryProtocol(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		// turn runs one spoken turn and returns the session's ID.
		turn func(t *testing.T, s *testServer, log *turnLog) string
	}{
		{gateway.ProtocolNative, func(t *testing.T, s *testServer, log *turnLog) string {
			c := s.dial(t, dialOpts{})
			st := c.start(nil)
			c.speak(16000, 600*time.Millisecond)
			lat := c.awaitTurn().latency
			got := log.get()
			if len(got) != 1 {
				t.Fatalf("%d turns traced by turn.latency", len(got))
			}
			// The tracer is told before turn.latency is written, of the
			// same times.
			ft := got[0]
			if ft.Trace.Turn != lat.Turn || lat.FirstAudioMS == nil ||
				fmt.Sprintf("%.3f", float64(ft.Trace.Since(ft.FirstAudioSent))/1e6) != fmt.Sprintf("%.3f", *lat.FirstAudioMS) {
				t.Errorf("traced turn %d, first audio %v; turn.latency %+v", ft.Trace.Turn, ft.Trace.Since(ft.FirstAudioSent), lat)
			}
			return st.SessionID
		}},
		{gateway.ProtocolRealtime, func(t *testing.T, s *testServer, log *turnLog) string {
			c := s.realtime(t, rtDial{})
			created := c.next()
			if created.Type != realtime.EventSessionCreated {
				t.Fatalf("first event %s", created.Raw)
			}
			c.appendAudio(realtime.FormatPCM, utterance(realtime.FormatPCM.Rate(), 600*time.Millisecond, 400*time.Millisecond))
			c.response()
			id, _ := session(created)["id"].(string)
			return strings.TrimPrefix(id, "sess_") // as the logs name it
		}},
		{gateway.ProtocolTwilio, func(t *testing.T, s *testServer, log *turnLog) string {
			c, _ := s.dialCall(t, nil)
			t.Cleanup(c.close)
			c.begin(nil)
			c.speak(600 * time.Millisecond)
			c.until(markNamed("1.1"))
			return callStream
		}},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			log := &turnLog{}
			s := newServer(t, func(o *gateway.Options) { o.TurnTracer = log })
			id := tc.turn(t, s, log)
			eventually(t, "a traced turn", func() bool { return len(log.get()) > 0 })
			ft := log.get()[0]
			if ft.Protocol != tc.protocol || ft.Session == "" || ft.Session != id || ft.VAD != "energy" || ft.Reason != 0 {
				t.Errorf("traced %+v; want protocol %s, session %q", ft, tc.protocol, id)
			}
			tr := ft.Trace
			if tr == nil || tr.Turn != 1 || tr.SpeechEnd.IsZero() || tr.ASRFinal.IsZero() || tr.LLMDone.IsZero() || tr.TTSDone.IsZero() || tr.Done.IsZero() || tr.Err != nil {
				t.Fatalf("trace %+v", tr)
			}
			if ft.FirstAudioSent.Before(tr.TTSFirstAudio) {
				t.Errorf("first audio on the wire %v, before synthesis made it %v", tr.Since(ft.FirstAudioSent), tr.Since(tr.TTSFirstAudio))
			}
		})
	}
}
