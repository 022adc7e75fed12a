package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway"
	"github.com/voicegate/voicegate/gateway/protocol"
	"github.com/voicegate/voicegate/pipeline"
	"github.com/voicegate/voicegate/pipeline/pipelinetest"
	"github.com/voicegate/voicegate/providers/llm/echo"
)

// These tests run the client against the real gateway (with the pipeline's
// fakes for stages) behind a TCP proxy that can cut every connection, as a
// network failure or a crashed gateway would, and switch to another
// gateway, as a restart does.

// realGateway starts a gateway on an httptest server.
func realGateway(t *testing.T, transcripts ...string) (*gateway.Server, string) {
	t.Helper()
	return gatewayWith(t, &echo.Echo{}, transcripts...)
}

// gatewayWith is realGateway with llm as the language model.
func gatewayWith(t *testing.T, llm pipeline.Generator, transcripts ...string) (*gateway.Server, string) {
	t.Helper()
	srv, err := gateway.New(gateway.Options{
		Registry: prometheus.NewRegistry(),
		Stages: pipeline.Stages{
			ASR: &pipelinetest.Scripted{Transcripts: transcripts, Latency: 20 * time.Millisecond},
			LLM: llm,
			TTS: &pipelinetest.Tone{Rate: 16000, PerRune: 5 * time.Millisecond},
		},
		VAD: vad.Config{Silence: 250 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return srv, ts.Listener.Addr().String()
}

// proxy forwards TCP connections to a target it can change, and can cut
// every connection it carries.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "ws://" + p.ln.Addr().String() + gateway.PathWS }

func (p *proxy) retarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every connection, without a WebSocket close handshake.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// speak sends an utterance the energy VAD takes for speech, between
// silences (the VAD learns the noise floor from the first), at real-time
// pace.
func speak(t *testing.T, s *Session) {
	t.Helper()
	utter := pipelinetest.Concat(pipelinetest.Silence(200*time.Millisecond, 16000),
		pipelinetest.Voice(600*time.Millisecond, 16000), pipelinetest.Silence(500*time.Millisecond, 16000))
	for i := 0; i < len(utter); i += 320 {
		if err := s.SendAudio(utter[i:min(i+320, len(utter))]); err != nil {
			t.Fatalf("SendAudio: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// voiceTurn speaks and checks the reply: the transcript, some audio, done.
func voiceTurn(t *testing.T, s *Session, rec *recorder, want string) {
	t.Helper()
	speak(t, s)
	final := rec.next(t, "transcript.final", func(ev Event) bool {
		tr, ok := ev.(*protocol.Transcript)
		return ok && tr.Type == protocol.TypeTranscriptFinal
	}).(*protocol.Transcript)
	if final.Text != want {
		t.Fatalf("transcript %q, want %q", final.Text, want)
	}
	var samples int
	done := rec.next(t, "response.done", func(ev Event) bool {
		if a, ok := ev.(*Audio); ok {
			samples += len(a.Samples)
		}
		return is[*protocol.ResponseDone](ev)
	}).(*protocol.ResponseDone)
	if !strings.Contains(done.Text, want) || samples == 0 {
		t.Fatalf("reply %q with %d samples of audio", done.Text, samples)
	}
}

func TestGatewayReconnectResumes(t *testing.T) {
	_, addr := realGateway(t, "hello there", "how are you")
	p := newProxy(t, addr)
	s, rec := dialURL(t, p.url(), nil)
	first := s.Started()
	voiceTurn(t, s, rec, "hello there")

	p.cut()
	rec.next(t, "Disconnected", is[*Disconnected])
	con := rec.next(t, "Connected", is[*Connected]).(*Connected)
	if !con.Started.Resumed || con.ResumeFailed || con.Started.SessionID != first.SessionID {
		t.Fatalf("after a cut: %+v, want session %s resumed", con.Started, first.SessionID)
	}
	if len(con.Started.History) != 2 {
		t.Errorf("resumed history has %d entries, want the 2 of the first turn", len(con.Started.History))
	}
	voiceTurn(t, s, rec, "how are you")
}

func TestGatewayRestartStartsNewSession(t *testing.T) {
	old, addr := realGateway(t, "hello there")
	p := newProxy(t, addr)
	s, rec := dialURL(t, p.url(), nil)
	first := s.Started()

	_, addr2 := realGateway(t, "after the restart")
	p.retarget(addr2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil { // drains: shutting_down, close 1012
		t.Fatal(err)
	}
	dis := rec.next(t, "Disconnected", is[*Disconnected]).(*Disconnected)
	if code, _ := CodeOf(dis.Err); code != protocol.CodeShuttingDown {
		t.Errorf("Disconnected.Err = %v, want shutting_down", dis.Err)
	}
	con := rec.next(t, "Connected", is[*Connected]).(*Connected)
	if !con.ResumeFailed || con.Started.Resumed || con.Started.SessionID == first.SessionID {
		t.Fatalf("after a restart: %+v %+v, want a new session", con, con.Started)
	}
	voiceTurn(t, s, rec, "after the restart")
}

// TestGatewayRefusalIsAnErrorEvent: a draining gateway refuses the upgrade
// with HTTP 503 and an error event in the body, whose advice the client
// takes: shutting_down, worth dialling again.
func TestGatewayRefusalIsAnErrorEvent(t *testing.T) {
	srv, addr := realGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := Dial(ctx, Config{URL: "ws://" + addr + "/ws"})
	var e *Error
	if !errors.As(err, &e) || e.Code != protocol.CodeShuttingDown || !e.Fatal || !e.Retryable ||
		!strings.Contains(e.Message, "HTTP 503") {
		t.Fatalf("Dial while draining: %#v, want a retryable shutting_down from HTTP 503", err)
	}
}
