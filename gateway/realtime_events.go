package gateway

import (
	"errors"
	"regexp"
	"time"

	"go.uber.org/zap"

	"github.com/voicegate/voicegate/audio"
	"github.com/voicegate/voicegate/audio/g711"
	"github.com/voicegate/voicegate/audio/resample"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
)

// The client's events, read by the connection's reader: each becomes
// pipeline.Session calls and Conversation edits, and is answered with
// its Realtime events or an error that names the client's event_id. None
// ends the connection.

// handle decodes one client message and acts on it.
func (rt *rtConn) handle(data []byte) error {
	ev, err := rt.dec.Decode(data)
	if err != nil {
		var re *realtime.Error
		if errors.As(err, &re) {
			rt.reply("", re)
		}
		return nil
	}
	if ce := rt.c.logger().Check(zap.DebugLevel, "realtime event"); ce != nil {
		ce.Write(zap.String("type", ev.Type()))
	}
	var rerr *realtime.Error
	switch e := ev.(type) {
	case *realtime.AppendEvent:
		rerr = rt.appendAudio(e)
	case *realtime.SessionUpdateEvent:
		rerr = rt.updateSession(e)
	case *realtime.CommitEvent:
		rerr = rt.commit()
	case *realtime.ClearEvent:
		rerr = rt.clear()
	case *realtime.ItemCreateEvent:
		rerr = rt.createItem(e)
	case *realtime.ItemRetrieveEvent:
		rerr = rt.retrieveItem(e)
	case *realtime.ItemTruncateEvent:
		rerr = rt.truncateItem(e)
	case *realtime.ItemDeleteEvent:
		rerr = rt.deleteItem(e)
	case *realtime.ResponseCreateEvent:
		rerr = rt.createResponse(e)
	case *realtime.ResponseCancelEvent:
		rerr = rt.cancelResponse(e)
	}
	if rerr != nil {
		rt.reply(ev.ID(), rerr)
	}
	return nil
}

// pipelineError is what a failed session call tells the client; nil when
// the session has ended (the connection is closing anyway).
func pipelineError(err error) *realtime.Error {
	if errors.Is(err, pipeline.ErrSessionClosed) {
		return nil
	}
	return realtime.ServerError(realtime.CodeServerError, "The session could not do that: %v", err)
}

// rtInboxFrames is the pipeline's input queue for a Realtime session, in
// 20 ms slots: an append larger than rtAudioPiece is fed in pieces, each
// taken in before the next.
const (
	rtInboxFrames = 100
	rtAudioPiece  = 16000 // 1 s at 16 kHz
	dropCheck     = 50    // appends between reads of the pipeline's drop count
)

func (rt *rtConn) appendAudio(e *realtime.AppendEvent) *realtime.Error {
	samples, err := rt.in.decode(e.Audio)
	if err != nil {
		return err
	}
	rt.heard.Add(int64(rt.in.format.Duration(len(e.Audio))))
	m := rt.srv.metrics
	m.framesIn.Inc()
	for len(samples) > 0 {
		n := min(len(samples), rtAudioPiece)
		rt.sess.WriteAudio(samples[:n])
		if samples = samples[n:]; len(samples) > 0 {
			// A control call waits for the audio written before it.
			if err := rt.sess.SetTurnTaking(rt.applied); err != nil {
				return pipelineError(err)
			}
		}
	}
	rt.in.shrink()
	if rt.appends++; rt.appends%dropCheck == 0 {
		if d := rt.sess.DroppedFrames(); d > rt.dropped {
			m.framesDropped.Add(float64(d - rt.dropped))
			rt.dropped = d
		}
	}
	return nil
}

func (rt *rtConn) commit() *realtime.Error {
	_, err := rt.sess.Commit()
	switch {
	case errors.Is(err, pipeline.ErrNothingToCommit):
		what := "no audio has been appended since the last commit"
		if !rt.applied.Manual {
			what = "no speech has been heard since the last turn"
		}
		return realtime.Invalid(realtime.CodeCommitEmpty, "", "Error committing input audio buffer: %s.", what)
	case err != nil:
		return pipelineError(err)
	}
	return nil // input_audio_buffer.committed comes from the session
}

func (rt *rtConn) clear() *realtime.Error {
	if err := rt.sess.ClearInput(); err != nil {
		return pipelineError(err)
	}
	rt.heard.Store(0)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for id, tr := range rt.out.transcripts {
		if !tr.committed {
			delete(rt.out.transcripts, id)
		}
	}
	rt.stream(rt.ev.Cleared())
	return nil
}

// updateSession applies a session.update: what the pipeline takes as
// calls, then the settings; session.updated reports them all.
func (rt *rtConn) updateSession(e *realtime.SessionUpdateEvent) *realtime.Error {
	u := e.Session
	next := rt.cfg()
	next.Apply(u)
	if u.Model != nil && rt.srv.opts.Realtime.findModel(*u.Model) == nil {
		return realtime.Invalid(realtime.CodeUnknownModel, "session.model", "The model '%s' is not served here; this server answers to: %s.", clipText(*u.Model), rt.srv.opts.Realtime.modelNames())
	}
	if next.Audio && rt.srv.opts.Stages.TTS == nil {
		return realtime.Invalid(realtime.CodeNotAvailable, "session.output_modalities", "This server has no speech synthesizer: replies are text only (output_modalities ['text']).")
	}
	if u.Transcription.Set && u.Transcription.Value != nil && u.Transcription.Value.Language != "" {
		lang, err := rt.srv.opts.realtimeLanguage(u.Transcription.Value)
		if err != nil {
			return err
		}
		if lang != rt.st.language {
			return realtime.Invalid(realtime.CodeInvalidValue, "session.audio.input.transcription.language",
				"This session speaks '%s': a session's language is chosen as it starts, by the client secret's session (POST /v1/realtime/client_secrets).", rt.st.language)
		}
	}
	if u.TurnDetection.Set {
		tt := turnTaking(next.TurnDetection, rt.srv.opts.VAD)
		if err := rt.sess.SetTurnTaking(tt); err != nil {
			return pipelineError(err)
		}
		rt.applied = tt
	}
	if u.Tools != nil || u.ToolChoice != nil {
		if err := rt.applyTools(next); err != nil {
			return realtime.Invalid(realtime.CodeInvalidValue, "session.tools", "%v", err)
		}
	}
	if err := rt.applyVoice(next); err != nil {
		return pipelineError(err)
	}
	if u.Instructions != nil {
		rt.st.conv.SetSystem(next.Instructions)
	}
	if u.InputFormat != nil {
		rt.in.setFormat(next.InputFormat)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	st := rt.st.rt
	st.mu.Lock()
	if next.OutputFormat != st.cfg.OutputFormat {
		rt.out.setFormat(next.OutputFormat)
	}
	st.cfg = next
	st.mu.Unlock()
	rt.stream(rt.ev.SessionUpdated(&next))
	return nil
}

// applyTools offers the session's tools to the model, unless tool_choice
// is "none".
func (rt *rtConn) applyTools(cfg realtime.Session) error {
	var tools []pipeline.Tool
	if cfg.ToolChoice != "none" {
		for _, t := range cfg.Tools {
			tools = append(tools, pipeline.Tool{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
		}
	}
	err := rt.sess.SetTools(tools)
	if errors.Is(err, pipeline.ErrSessionClosed) {
		return nil
	}
	return err
}

// applyVoice makes new replies speak in the session's voice, or in none
// when they are text only. A voice the synthesizer lacks is its own.
func (rt *rtConn) applyVoice(cfg realtime.Session) error {
	return rt.setVoice(voiceOf(cfg.Audio, cfg.Voice))
}

// voiceOf returns the synthesizer voice of replies that speak (audio) in
// voice, or write.
func voiceOf(audio bool, voice string) string {
	if !audio {
		return rtMute
	}
	return voice
}

func (rt *rtConn) setVoice(voice string) error {
	if rt.srv.opts.Stages.TTS == nil || voice == rt.voice {
		return nil
	}
	err := rt.sess.SetVoice(voice)
	if errors.Is(err, pipeline.ErrUnknownVoice) {
		rt.c.logger().Debug("voice not offered by the synthesizer; its own voice speaks", zap.String("voice", clipText(voice)))
		err = rt.sess.SetVoice("")
	}
	if errors.Is(err, pipeline.ErrSessionClosed) {
		return nil
	}
	if err == nil {
		rt.voice = voice
	}
	return err
}

// serverItemID matches the IDs the conversation hands out, which a client
// may not take for its own items.
var serverItemID = regexp.MustCompile(`^item_[0-9]+(_fc[0-9]+)?$`)

// createItem adds the client's item at the end of the conversation. It
// does not start a response: response.create does.
func (rt *rtConn) createItem(e *realtime.ItemCreateEvent) *realtime.Error {
	it, conv, st := e.Item, rt.st.conv, rt.st.rt
	if p := e.PreviousItemID; p != nil {
		last := previous(conv, "")
		if *p != last && !(*p == "root" && last == "") {
			return realtime.Invalid(realtime.CodeUnsupported, "previous_item_id", "Items are added at the end of the conversation here: previous_item_id must be the last item's ID (%q) or left out.", last)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	id := it.ID
	if id == "" {
		id = conv.NewID()
	} else if _, taken := conv.Get(id); taken || st.items[id] != nil || serverItemID.MatchString(id) {
		return realtime.Invalid(realtime.CodeInvalidValue, "item.id", "The item ID '%s' is taken.", id)
	}
	msg := pipeline.Message{ID: id}
	var kind rtKind
	switch it.Type {
	case realtime.ItemMessage:
		msg.Content = it.Text()
		switch it.Role {
		case "user":
			msg.Role, kind = pipeline.RoleUser, kindUserText
		case "system":
			msg.Role, kind = pipeline.RoleSystem, kindSystem
		default:
			msg.Role, kind = pipeline.RoleAssistant, kindAssistantText
			if it.Content[0].Type == realtime.ContentOutputAudio {
				kind = kindAssistantAudio
			}
		}
	case realtime.ItemFunctionCall:
		msg.Role, kind = pipeline.RoleAssistant, kindCall
		msg.ToolCalls = []pipeline.ToolCall{{ID: it.CallID, Name: it.Name, Arguments: it.Arguments}}
	case realtime.ItemFunctionCallOutput:
		msg.Role, kind, msg.ToolCallID, msg.Content = pipeline.RoleTool, kindOutput, it.CallID, it.Output
	}
	conv.Append(msg)
	if _, kept := conv.Get(id); !kept {
		return realtime.Invalid(realtime.CodeUnsupported, "item", "The conversation begins with a user's message here: an item before the first one is not kept.")
	}
	rec := st.record(id, kind, realtime.StatusCompleted)
	rec.message = id
	st.prune(conv)
	out, _ := st.item(conv, id)
	prev := previous(conv, id)
	rt.stream(rt.ev.ItemAdded(out, prev))
	streamIf(rt, rt.ev.ItemDone(out, prev))
	return nil
}

func (rt *rtConn) retrieveItem(e *realtime.ItemRetrieveEvent) *realtime.Error {
	st := rt.st.rt
	st.mu.Lock()
	it, ok := st.item(rt.st.conv, e.ItemID)
	st.mu.Unlock()
	if !ok {
		return notFound(e.ItemID)
	}
	rt.stream(rt.ev.ItemRetrieved(it))
	return nil
}

func notFound(id string) *realtime.Error {
	return realtime.Invalid(realtime.CodeItemNotFound, "item_id", "Item with item_id '%s' not found.", clipText(id))
}

// truncateItem keeps of an assistant's audio reply what the client played
// (audio_end_ms): the sentences whose audio had begun by then.
func (rt *rtConn) truncateItem(e *realtime.ItemTruncateEvent) *realtime.Error {
	if e.ContentIndex != 0 {
		return realtime.Invalid(realtime.CodeInvalidValue, "content_index", "An assistant message has one content part here: content_index must be 0.")
	}
	st := rt.st.rt
	st.mu.Lock()
	_, known := st.item(rt.st.conv, e.ItemID)
	err := st.truncate(rt.st.conv, e.ItemID, e.AudioEndMS)
	recorded := st.items[e.ItemID] != nil
	st.mu.Unlock()
	switch {
	case !known && !recorded:
		return notFound(e.ItemID)
	case err != nil:
		return realtime.Invalid(realtime.CodeInvalidValue, "item_id", "%v.", err)
	}
	rt.stream(rt.ev.ItemTruncated(e.ItemID, 0, e.AudioEndMS))
	return nil
}

func (rt *rtConn) deleteItem(e *realtime.ItemDeleteEvent) *realtime.Error {
	st, conv, id := rt.st.rt, rt.st.conv, e.ItemID
	st.mu.Lock()
	defer st.mu.Unlock()
	rec := st.items[id]
	target := id
	if rec != nil && rec.kind == kindCall && rec.message != id {
		// A tool call the model made lives in its reply's message: it
		// goes with the message when that holds nothing else.
		if m, ok := conv.Get(rec.message); ok && (m.Content != "" || len(m.ToolCalls) > 1) {
			return realtime.Invalid(realtime.CodeUnsupported, "item_id", "This function call shares its message with other content; delete the message '%s'.", rec.message)
		}
		target = rec.message
	}
	if !conv.Delete(target) && (rec == nil || rec.transcript == nil) {
		return notFound(id)
	}
	delete(st.items, id)
	rt.stream(rt.ev.ItemDeleted(id))
	return nil
}

// createResponse starts a response to the conversation as it stands, with
// the response's own instructions if it gives some.
func (rt *rtConn) createResponse(e *realtime.ResponseCreateEvent) *realtime.Error {
	p := e.Response
	cfg := rt.cfg()
	audio, voice := cfg.Audio, cfg.Voice
	if p.Audio != nil {
		audio = *p.Audio
	}
	if p.Voice != nil {
		voice = *p.Voice
	}
	switch {
	case audio && rt.srv.opts.Stages.TTS == nil:
		return realtime.Invalid(realtime.CodeNotAvailable, "response.output_modalities", "This server has no speech synthesizer: responses are text only.")
	case p.OutputFormat != nil && *p.OutputFormat != cfg.OutputFormat:
		return realtime.Invalid(realtime.CodeUnsupported, "response.audio.output.format", "A response speaks in the session's format (%s); change it with session.update.", cfg.OutputFormat)
	}
	var instructions string
	if p.Instructions != nil {
		instructions = *p.Instructions
	}
	own := rt.voice
	if err := rt.setVoice(voiceOf(audio, voice)); err != nil {
		return pipelineError(err)
	}
	rt.mu.Lock()
	rt.next = &p
	rt.mu.Unlock()
	turn, err := rt.sess.Respond(pipeline.ResponseOptions{Instructions: instructions})
	rt.mu.Lock()
	if err == nil && turn > rt.doneTurn {
		rt.response(turn) // response.created, unless the session's events came first
	}
	rt.next = nil
	active := ""
	if rt.resp != nil {
		active = rt.resp.r.ID
	}
	rt.mu.Unlock()
	if rt.voice != own {
		if err := rt.setVoice(own); err != nil {
			return pipelineError(err)
		}
	}
	switch {
	case errors.Is(err, pipeline.ErrResponseActive):
		return realtime.Invalid(realtime.CodeActiveResponse, "", "Conversation already has an active response in progress: %s. Wait until the response is finished before creating a new one.", active)
	case errors.Is(err, pipeline.ErrTextTooLong):
		return realtime.Invalid(realtime.CodeInvalidValue, "response.instructions", "%v", err)
	case err != nil:
		return pipelineError(err)
	}
	return nil
}

// cancelResponse cuts the response in progress; its response.done says
// cancelled.
func (rt *rtConn) cancelResponse(e *realtime.ResponseCancelEvent) *realtime.Error {
	rt.mu.Lock()
	resp := rt.resp
	rt.mu.Unlock()
	switch {
	case resp == nil:
		return realtime.Invalid(realtime.CodeCancelNotActive, "", "Cancellation failed: no active response found.")
	case e.ResponseID != "" && e.ResponseID != resp.r.ID:
		return realtime.Invalid(realtime.CodeInvalidValue, "response_id", "Response '%s' is not in progress; '%s' is.", clipText(e.ResponseID), resp.r.ID)
	}
	rt.sess.Interrupt()
	return nil
}

// announce tells a client its session: session.created with the whole
// configuration, how to resume it, and, resumed, the conversation so far.
func (rt *rtConn) announce(token string, resumed bool) {
	cfg := rt.cfg()
	rt.c.sendControl(rt.ev.SessionCreated(&cfg)) // first of all; the session has not begun to speak
	streamIf(rt, rt.ev.ConversationCreated(conversationID(rt.st)))
	rt.stream(rt.ev.Resumable(cfg.ID, token, rt.srv.opts.ResumeWindow.Milliseconds(), resumed))
	if resumed {
		st := rt.st.rt
		st.mu.Lock()
		items := st.list(rt.st.conv)
		st.mu.Unlock()
		prev := ""
		for _, it := range items {
			rt.roomToReplay()
			rt.stream(rt.ev.ItemAdded(it, prev))
			streamIf(rt, rt.ev.ItemDone(it, prev))
			prev = it.ID
		}
	}
	rt.stream(rt.ev.RateLimitsUpdated(rt.rateLimits()))
}

// roomToReplay waits, for at most a write timeout, until the stream lane
// is no more than half full: a long conversation replayed on resume must
// not look like a client that does not read.
func (rt *rtConn) roomToReplay() {
	c := rt.c
	deadline := time.Now().Add(rt.srv.opts.WriteTimeout)
	for len(c.stream) > cap(c.stream)/2 && time.Now().Before(deadline) {
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-t.C:
		case <-c.closing:
			t.Stop()
			return
		}
	}
}

// rateLimits reports the one limit voicegate puts on a client's requests:
// the session starts its key (or address) may make (server.session_rate
// over server.session_burst).
func (rt *rtConn) rateLimits() []realtime.RateLimit {
	o := &rt.srv.opts
	left := rt.srv.admit.startsLeft(rt.c.peer.principal(), o.Now())
	reset := 0.0
	if o.SessionRate > 0 {
		reset = (float64(o.SessionBurst) - left) / o.SessionRate
	}
	return []realtime.RateLimit{{Name: "requests", Limit: o.SessionBurst, Remaining: int(left), ResetSeconds: max(reset, 0)}}
}

// startsLeft returns how many session starts principal may make now.
func (a *admission) startsLeft(principal string, now time.Time) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b, ok := a.buckets[principal]; ok {
		return b.TokensAt(now)
	}
	return float64(a.burst)
}

// rtInput turns appended audio, in the session's input format, into the
// pipeline's 16 kHz samples. The reader's alone.
type rtInput struct {
	format realtime.Format
	rs     *resample.Resampler
	pcm    []int16
	out    []int16
}

func (in *rtInput) setFormat(f realtime.Format) {
	in.format = f
	in.rs, _ = resample.New(f.Rate(), audio.Mono16k.SampleRate) // both are supported rates
}

// decode returns b's samples at 16 kHz, valid until the next call.
func (in *rtInput) decode(b []byte) ([]int16, *realtime.Error) {
	switch in.format {
	case realtime.FormatPCMU:
		in.pcm = g711.DecodeMuLaw(in.pcm[:0], b)
	case realtime.FormatPCMA:
		in.pcm = g711.DecodeALaw(in.pcm[:0], b)
	default:
		s, err := audio.DecodePCM16(in.pcm[:0], b)
		if err != nil {
			return nil, realtime.Invalid(realtime.CodeInvalidAudio, "audio", "audio/pcm is 16-bit samples, but the append holds %d bytes, an odd number: it is not audio in the session's input format.", len(b))
		}
		in.pcm = s
	}
	in.out = in.rs.Process(in.out[:0], in.pcm)
	return in.out, nil
}

// shrink gives back buffers a large append grew.
func (in *rtInput) shrink() {
	if cap(in.pcm) > bigMessage {
		in.pcm, in.out = nil, nil
	}
}
