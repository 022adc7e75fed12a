package gateway

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
)

// The pipeline's events as Realtime events. Send is the session's Output:
// like the native connection's, it never blocks, and queues on the
// connection's two lanes. Every Realtime event goes on the stream lane, in
// order (a response's items and parts must not overtake one another),
// but for speech_started, which the client acts on at once, and errors.
// A cut response's queued audio and deltas are dropped by the writer (the
// turn's Handle says so), its closing events are not.

// rtResponse is the response in progress.
type rtResponse struct {
	turn  uint64
	r     realtime.Response
	msg   *rtMessage     // the message being streamed
	calls map[string]int // tool calls so far, by the message they belong to
	// failed is the stage error that ended the response, if one did.
	failed *realtime.Error
	usage  realtime.Usage
}

// rtMessage is an assistant message being streamed.
type rtMessage struct {
	id         string
	index      int // in the response's output
	text       strings.Builder
	audioBytes int // sent, in the output format
	sentence   int // the sentence of the last audio sent
}

func (m *rtMessage) ref(resp *rtResponse) realtime.Ref {
	return realtime.Ref{ResponseID: resp.r.ID, ItemID: m.id, OutputIndex: m.index}
}

// rtTranscript is what a user audio item's transcription has told the
// client.
type rtTranscript struct {
	committed bool
	sent      string // deltas sent so far
	pending   string // the latest hypothesis, not yet sent
	seconds   float64
}

// maxTranscripts bounds the transcriptions followed at once: a few turns
// are being recognised at a time.
const maxTranscripts = 16

// Send is the session's Output.
func (rt *rtConn) Send(ev pipeline.Event) {
	c := rt.c
	if c.isClosing() {
		return
	}
	switch ev.Kind {
	case pipeline.EventTurnLatency:
		// Observed when it reaches the writer, as on /ws: the turn's
		// audio, queued ahead of it, is on the wire by then.
		c.push(c.stream, outItem{ev: ev})
		return
	case pipeline.EventToolResult, pipeline.EventAudioStart:
		return // a server tool is the server's business; the format is the session's
	case pipeline.EventSpeechStarted:
		c.push(c.control, outItem{msg: rt.ev.SpeechStarted(ev.Item, ev.Offset.Milliseconds())})
		return
	case pipeline.EventAudio:
		if ev.Handle != nil && ev.Handle.IsCut() {
			return
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch ev.Kind {
	case pipeline.EventSpeechStopped:
		rt.stream(rt.ev.SpeechStopped(ev.Item, ev.Offset.Milliseconds()))
	case pipeline.EventInputCommitted:
		rt.committed(ev)
	case pipeline.EventTranscriptPartial:
		rt.partial(ev)
	case pipeline.EventTranscriptFinal:
		rt.transcribed(ev)
	case pipeline.EventTextDelta:
		rt.textDelta(ev)
	case pipeline.EventSentence:
		rt.sentence(ev)
	case pipeline.EventAudio:
		rt.audio(ev)
	case pipeline.EventAudioDone:
		rt.audioDone(ev)
	case pipeline.EventToolCall:
		rt.toolCall(ev)
	case pipeline.EventResponseDone, pipeline.EventResponseCancelled:
		rt.finish(ev)
	case pipeline.EventError:
		rt.stageError(ev)
	}
}

// stream queues msg on the stream lane.
func (rt *rtConn) stream(msg any) { rt.c.push(rt.c.stream, outItem{msg: msg}) }

// streamIf queues ev unless the dialect has no such event (nil).
func streamIf[T any](rt *rtConn, ev *T) {
	if ev != nil {
		rt.stream(ev)
	}
}

// eventMessage is the connection's writer handing back an event Send
// queued without a message: the turn's latency, whose audio is on the
// wire now. The Realtime protocol has no message for it.
func (rt *rtConn) eventMessage(ev pipeline.Event) any {
	if ev.Kind == pipeline.EventTurnLatency {
		rt.c.turnDone(ev)
	}
	return nil
}

// cfg returns the session's settings as they are now.
func (rt *rtConn) cfg() realtime.Session {
	st := rt.st.rt
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cfg
}

// transcript returns the transcription state of user item id.
func (rt *rtConn) transcript(id string) *rtTranscript {
	tr, ok := rt.out.transcripts[id]
	if !ok {
		if rt.out.transcripts == nil {
			rt.out.transcripts = map[string]*rtTranscript{}
		}
		if len(rt.out.transcripts) >= maxTranscripts {
			// Speech that never became a turn left these behind.
			for k, old := range rt.out.transcripts {
				if !old.committed {
					delete(rt.out.transcripts, k)
				}
			}
		}
		if len(rt.out.transcripts) >= maxTranscripts {
			// And turns cut before their transcript was ready: the
			// cap holds whatever the order of events.
			clear(rt.out.transcripts)
		}
		tr = &rtTranscript{}
		rt.out.transcripts[id] = tr
	}
	return tr
}

// committed: the user's speech (or the audio committed) became item
// ev.Item, to be transcribed.
func (rt *rtConn) committed(ev pipeline.Event) {
	conv := rt.st.conv
	prev := previous(conv, ev.Item)
	rt.stream(rt.ev.Committed(ev.Item, prev))
	it := realtime.Item{ID: ev.Item, Type: realtime.ItemMessage, Status: realtime.StatusCompleted, Role: "user",
		Content: []realtime.Content{{Type: realtime.ContentInputAudio}}}
	rt.stream(rt.ev.ItemAdded(it, prev))
	streamIf(rt, rt.ev.ItemDone(it, prev))
	st := rt.st.rt
	st.mu.Lock()
	st.record(ev.Item, kindUserAudio, realtime.StatusCompleted)
	transcribe := st.cfg.Transcription != nil
	st.mu.Unlock()
	tr := rt.transcript(ev.Item)
	tr.committed = true
	tr.seconds = time.Duration(rt.heard.Swap(0)).Seconds()
	if transcribe && tr.pending != "" {
		rt.stream(rt.ev.TranscriptionDelta(ev.Item, tr.pending))
		tr.sent, tr.pending = tr.pending, ""
	}
}

// partial: the recogniser's hypothesis so far. Realtime deltas only add:
// a hypothesis that extends what was sent adds its new words; one that
// revises it waits for the transcript.
func (rt *rtConn) partial(ev pipeline.Event) {
	tr := rt.transcript(ev.Item)
	if !tr.committed {
		tr.pending = ev.Text
		return
	}
	if rest, ok := strings.CutPrefix(ev.Text, tr.sent); ok && rest != "" && rt.cfg().Transcription != nil {
		rt.stream(rt.ev.TranscriptionDelta(ev.Item, rest))
		tr.sent = ev.Text
	}
}

// transcribed: the user's words of item ev.Item.
func (rt *rtConn) transcribed(ev pipeline.Event) {
	tr := rt.transcript(ev.Item)
	delete(rt.out.transcripts, ev.Item)
	st := rt.st.rt
	st.mu.Lock()
	rec := st.record(ev.Item, kindUserAudio, realtime.StatusCompleted)
	if ev.Text == "" {
		words := "" // heard as nothing: no message joins the conversation
		rec.transcript = &words
	}
	transcribe := st.cfg.Transcription != nil
	st.prune(rt.st.conv)
	st.mu.Unlock()
	if transcribe {
		rt.stream(rt.ev.TranscriptionCompleted(ev.Item, ev.Text, tr.seconds))
	}
	rt.out.heard = rtHeard{item: ev.Item, text: ev.Text, seconds: tr.seconds}
}

// response returns the response of ev's turn, starting it (response.created)
// if the client has not been told of it yet.
func (rt *rtConn) response(turn uint64) *rtResponse {
	if rt.resp != nil && rt.resp.turn == turn {
		return rt.resp
	}
	cfg := rt.cfg()
	p := realtime.ResponseParams{}
	if rt.next != nil {
		p = *rt.next
	}
	audio := cfg.Audio
	if p.Audio != nil {
		audio = *p.Audio
	}
	voice := cfg.Voice
	if p.Voice != nil {
		voice = *p.Voice
	}
	resp := &rtResponse{turn: turn, calls: map[string]int{}, r: realtime.Response{
		ID: "resp_" + rt.st.id + "_" + strconv.FormatUint(turn, 10), ConversationID: conversationID(rt.st), Status: realtime.StatusInProgress,
		Audio: audio, OutputFormat: cfg.OutputFormat, Voice: voice, Metadata: p.Metadata,
	}}
	if h := rt.out.heard; h.item != "" {
		resp.usage.InputAudioSeconds, resp.usage.InputTextBytes = h.seconds, len(h.text)
		rt.out.heard = rtHeard{}
	}
	rt.resp = resp
	rt.stream(rt.ev.ResponseCreated(&resp.r))
	return resp
}

// message returns the message ev belongs to, opening it (output item,
// conversation item, content part) if it is new; a new one closes the one
// before, complete.
func (rt *rtConn) message(ev pipeline.Event) (*rtResponse, *rtMessage) {
	resp := rt.response(ev.Turn)
	if m := resp.msg; m != nil && m.id == ev.Item {
		return resp, m
	}
	rt.closeMessage(resp, realtime.StatusCompleted)
	m := &rtMessage{id: ev.Item, index: len(resp.r.Output)}
	resp.msg = m
	it := realtime.Item{ID: m.id, Type: realtime.ItemMessage, Status: realtime.StatusInProgress, Role: "assistant"}
	prev := previous(rt.st.conv, m.id)
	rt.stream(rt.ev.OutputItemAdded(resp.r.ID, m.index, it))
	rt.stream(rt.ev.ItemAdded(it, prev))
	rt.stream(rt.ev.ContentPartAdded(m.ref(resp), resp.r.Audio, ""))
	kind := kindAssistantText
	if resp.r.Audio {
		kind = kindAssistantAudio
	}
	st := rt.st.rt
	st.mu.Lock()
	st.prune(rt.st.conv)
	st.record(m.id, kind, realtime.StatusInProgress)
	st.mu.Unlock()
	return resp, m
}

func (rt *rtConn) textDelta(ev pipeline.Event) {
	resp, m := rt.message(ev)
	m.text.WriteString(ev.Text)
	msg := any(rt.ev.TextDelta(m.ref(resp), ev.Text))
	if resp.r.Audio {
		msg = rt.ev.TranscriptDelta(m.ref(resp), ev.Text)
	}
	// Kind and Handle let the writer drop it once the turn is cut.
	rt.c.push(rt.c.stream, outItem{msg: msg, ev: pipeline.Event{Kind: pipeline.EventTextDelta, Handle: ev.Handle}})
}

// sentence: the audio that follows speaks ev.Text; where it begins is
// what a truncation goes by.
func (rt *rtConn) sentence(ev pipeline.Event) {
	_, m := rt.message(ev)
	at := rt.out.format.Duration(m.audioBytes).Milliseconds()
	st := rt.st.rt
	st.mu.Lock()
	if rec := st.items[m.id]; rec != nil {
		rec.sentences = append(rec.sentences, rtSentence{startMS: at, text: ev.Text})
	}
	st.mu.Unlock()
}

func (rt *rtConn) audio(ev pipeline.Event) {
	resp, m := rt.message(ev)
	rt.sendAudio(resp, m, ev, rt.out.encode(ev.Audio))
}

// sendAudio queues b, audio in the output format, as an audio delta of m.
func (rt *rtConn) sendAudio(resp *rtResponse, m *rtMessage, ev pipeline.Event, b []byte) {
	if len(b) == 0 {
		return
	}
	m.audioBytes += len(b)
	m.sentence = max(m.sentence, ev.Sentence)
	buf := rt.srv.getBuf()
	*buf = rt.ev.AppendAudioDelta((*buf)[:0], m.ref(resp), b)
	rt.c.push(rt.c.stream, outItem{pcm: buf, text: true, ev: pipeline.Event{Kind: pipeline.EventAudio, Handle: ev.Handle, Sentence: ev.Sentence}})
}

// audioDone: no more audio in this turn; the resampler's tail goes out.
func (rt *rtConn) audioDone(ev pipeline.Event) {
	if resp := rt.resp; resp != nil && resp.turn == ev.Turn && resp.msg != nil {
		ev.Sentence = resp.msg.sentence // the tail belongs to the last sentence
		rt.sendAudio(resp, resp.msg, ev, rt.out.flush())
	}
	rt.out.reset()
}

// toolCall: the model asked for one of the client's tools. It becomes a
// function_call item of the response, announced complete, which the
// client runs and answers with a function_call_output.
func (rt *rtConn) toolCall(ev pipeline.Event) {
	resp := rt.response(ev.Turn)
	rt.closeMessage(resp, realtime.StatusCompleted)
	k := resp.calls[ev.Item]
	resp.calls[ev.Item] = k + 1
	id, call, idx := fcID(ev.Item, k), *ev.Call, len(resp.r.Output)
	prev := previous(rt.st.conv, ev.Item)
	if k > 0 {
		prev = fcID(ev.Item, k-1)
	} else if m, ok := rt.st.conv.Get(ev.Item); ok && m.Content != "" {
		prev = ev.Item // the words said before the call
	}
	it := callItem(id, realtime.StatusInProgress, call)
	it.Arguments = ""
	rt.stream(rt.ev.OutputItemAdded(resp.r.ID, idx, it))
	rt.stream(rt.ev.ItemAdded(it, prev))
	rt.stream(rt.ev.FunctionArgumentsDelta(resp.r.ID, id, idx, call.ID, call.Arguments))
	rt.stream(rt.ev.FunctionArgumentsDone(resp.r.ID, id, idx, call.ID, call.Name, call.Arguments))
	it = callItem(id, realtime.StatusCompleted, call)
	rt.stream(rt.ev.OutputItemDone(resp.r.ID, idx, it))
	streamIf(rt, rt.ev.ItemDone(it, prev))
	resp.r.Output = append(resp.r.Output, it)
	st := rt.st.rt
	st.mu.Lock()
	st.prune(rt.st.conv)
	rec := st.record(id, kindCall, realtime.StatusCompleted)
	rec.message, rec.call = ev.Item, k
	st.mu.Unlock()
}

// closeMessage ends the message being streamed with status: its part,
// its output item and its conversation item. A message cut short says
// what the conversation kept of it.
func (rt *rtConn) closeMessage(resp *rtResponse, status string) {
	m := resp.msg
	if m == nil {
		return
	}
	resp.msg = nil
	conv, st := rt.st.conv, rt.st.rt
	text := strings.TrimSpace(m.text.String())
	if status != realtime.StatusCompleted {
		text = ""
		if msg, ok := conv.Get(m.id); ok {
			text = msg.Content
		}
	}
	ref := m.ref(resp)
	content := realtime.Content{Type: realtime.ContentOutputText, Text: text}
	if resp.r.Audio {
		content = realtime.Content{Type: realtime.ContentOutputAudio, Transcript: &text}
		rt.stream(rt.ev.AudioDone(ref))
		rt.stream(rt.ev.TranscriptDone(ref, text))
	} else {
		rt.stream(rt.ev.TextDone(ref, text))
	}
	rt.stream(rt.ev.ContentPartDone(ref, resp.r.Audio, text))
	it := realtime.Item{ID: m.id, Type: realtime.ItemMessage, Status: status, Role: "assistant", Content: []realtime.Content{content}}
	prev := previous(conv, m.id)
	rt.stream(rt.ev.OutputItemDone(resp.r.ID, m.index, it))
	streamIf(rt, rt.ev.ItemDone(it, prev))
	resp.r.Output = append(resp.r.Output, it)
	resp.usage.OutputTextBytes += len(text)
	resp.usage.OutputAudioSeconds += rt.out.format.Duration(m.audioBytes).Seconds()

	st.mu.Lock()
	defer st.mu.Unlock()
	rec := st.items[m.id]
	if rec == nil {
		return
	}
	rec.status = status
	rec.audioMS = rt.out.format.Duration(m.audioBytes).Milliseconds()
	if _, ok := conv.Get(m.id); !ok {
		rec.transcript = &text // nothing of it was kept
	}
	if rec.truncating {
		rec.truncating = false
		keep(conv, m.id, rec, rec.kept(rec.truncateAt))
	}
}

// finish ends the response: complete, cancelled (by the client, or by the
// user speaking over it) or failed.
func (rt *rtConn) finish(ev pipeline.Event) {
	resp := rt.response(ev.Turn)
	status, details := realtime.StatusCompleted, (*realtime.StatusDetails)(nil)
	if ev.Kind == pipeline.EventResponseCancelled {
		switch ev.Reason {
		case pipeline.CancelBargeIn:
			status, details = "cancelled", &realtime.StatusDetails{Type: "cancelled", Reason: "turn_detected"}
		case pipeline.CancelInterrupt:
			status, details = "cancelled", &realtime.StatusDetails{Type: "cancelled", Reason: "client_cancelled"}
		default:
			failure := resp.failed
			if failure == nil {
				failure = realtime.ServerError(realtime.CodeServerError, "The response failed.")
			}
			status, details = "failed", &realtime.StatusDetails{Type: "failed", Error: failure}
		}
		rt.out.reset()
	}
	item := realtime.StatusCompleted
	if status != realtime.StatusCompleted {
		item = realtime.StatusIncomplete
	}
	rt.closeMessage(resp, item)
	resp.r.Status, resp.r.StatusDetails, resp.r.Usage = status, details, &resp.usage
	rt.stream(rt.ev.ResponseDone(&resp.r))
	rt.stream(rt.ev.RateLimitsUpdated(rt.rateLimits()))
	rt.resp = nil
	rt.doneTurn = max(rt.doneTurn, ev.Turn)
}

// stageError: a provider failed. The recogniser's failure is the user
// item's transcription failing; the model's or the synthesizer's fails
// the response (its response.done follows) and is told as an error too.
func (rt *rtConn) stageError(ev pipeline.Event) {
	cl, _ := classify(ev.Err)
	msg := "internal error"
	var se *pipeline.StageError
	if errors.As(ev.Err, &se) {
		msg = stageMessage(se)
		rt.c.logger().Warn("stage failed", zap.String("stage", string(se.Stage)), zap.String("provider", se.Provider),
			zap.Uint64("turn", ev.Turn), zap.String("code", string(cl.Code)), zap.Error(se.Err))
	} else {
		rt.c.logger().Error("session error", zap.Uint64("turn", ev.Turn), zap.Error(ev.Err))
	}
	failure := realtime.ServerError(string(cl.Code), "%s", msg)
	if se != nil && se.Stage == pipeline.StageASR {
		tr, ok := rt.out.transcripts[ev.Item]
		delete(rt.out.transcripts, ev.Item)
		if ok && tr.committed {
			rt.stream(rt.ev.TranscriptionFailed(ev.Item, failure))
			return
		}
		rt.reply("", failure) // the speech never became an item
		return
	}
	if se != nil && ev.Turn != 0 {
		// The response ends failed next (a cancel with CancelError).
		rt.response(ev.Turn).failed = failure
	}
	rt.reply("", failure)
}

// rtHeard is the user's turn a response will answer, for its usage.
type rtHeard struct {
	item    string
	text    string
	seconds float64
}

// rtOutput is the output side's state: reply audio from the pipeline's
// rate into the client's format, and the transcriptions in progress.
// Guarded by rtConn.mu.
type rtOutput struct {
	from        int // the pipeline's output rate; 0 when it has no audio
	format      realtime.Format
	rs          *resample.Resampler
	samples     []int16
	enc         []byte
	transcripts map[string]*rtTranscript
	heard       rtHeard
}

func (o *rtOutput) setFormat(f realtime.Format) {
	o.format, o.rs = f, nil
}

// encode returns pcm, at the pipeline's rate, in the output format; the
// result is valid until the next call. It allocates nothing once its
// buffers have grown.
func (o *rtOutput) encode(pcm []int16) []byte {
	if o.rs == nil {
		o.rs, _ = resample.New(o.from, o.format.Rate()) // both are supported rates
	}
	o.samples = o.rs.Process(o.samples[:0], pcm)
	return o.pack()
}

// flush returns the resampler's tail, in the output format.
func (o *rtOutput) flush() []byte {
	if o.rs == nil {
		return nil
	}
	o.samples = o.rs.Flush(o.samples[:0])
	return o.pack()
}

// reset starts a new stream of reply audio.
func (o *rtOutput) reset() {
	if o.rs != nil {
		o.rs.Reset()
	}
}

func (o *rtOutput) pack() []byte {
	switch o.format {
	case realtime.FormatPCMU:
		o.enc = g711.EncodeMuLaw(o.enc[:0], o.samples)
	case realtime.FormatPCMA:
		o.enc = g711.EncodeALaw(o.enc[:0], o.samples)
	default:
		o.enc = audio.EncodePCM16(o.enc[:0], o.samples)
	}
	return o.enc
}
