package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/voicegate/voicegate/audio/vad"
	"github.com/voicegate/voicegate/gateway/realtime"
	"github.com/voicegate/voicegate/pipeline"
)

// rtState is what a Realtime session keeps beside its conversation, for as
// long as the session lives (across a dropped connection too): its
// effective settings, and what each message of the conversation is as a
// Realtime item (spoken or typed, its audio's sentences for truncation).
type rtState struct {
	mu    sync.Mutex
	cfg   realtime.Session
	items map[string]*rtItem
	order []string // item IDs in the order they were recorded, for pruning
}

// rtKind is what a Realtime item is.
type rtKind uint8

const (
	kindUserText rtKind = iota
	kindUserAudio
	kindAssistantText
	kindAssistantAudio
	kindSystem
	kindCall   // a function_call: the message's tool call
	kindOutput // a function_call_output
)

// rtItem is what the conversation's message does not say about an item.
type rtItem struct {
	kind   rtKind
	status string
	// message and call are where a function_call item's call lives.
	message string
	call    int
	// transcript is a user audio item's words while its message is not in
	// the conversation (not transcribed yet, or heard as nothing), and a
	// reply's when nothing of it was kept.
	transcript *string
	// An assistant audio item's sentences, each with the audio offset at
	// which it began, for conversation.item.truncate.
	sentences []rtSentence
	audioMS   int64 // how much audio the item had once it was done; 0 before
	// truncateAt is a truncation asked for before the reply's message
	// joined the conversation; it is applied when it does.
	truncateAt int
	truncating bool
}

type rtSentence struct {
	startMS int64
	text    string
}

// maxItemInfo bounds what a session remembers about items: beyond it the
// oldest no longer in the conversation are forgotten.
const maxItemInfo = 256

// record notes item id as kind, returning its record.
func (r *rtState) record(id string, kind rtKind, status string) *rtItem {
	it, ok := r.items[id]
	if !ok {
		it = &rtItem{}
		r.items[id] = it
		r.order = append(r.order, id)
	}
	it.kind, it.status = kind, status
	return it
}

// prune forgets the oldest records of items the conversation no longer
// holds, down to maxItemInfo.
func (r *rtState) prune(conv *pipeline.Conversation) {
	if len(r.order) <= maxItemInfo {
		return
	}
	held := map[string]bool{}
	for _, m := range conv.History() {
		held[m.ID] = true
	}
	keep := r.order[:0]
	drop := len(r.order) - maxItemInfo
	for _, id := range r.order {
		it := r.items[id]
		base := id
		if it != nil && it.kind == kindCall {
			base = it.message
		}
		if drop > 0 && !held[base] {
			delete(r.items, id)
			drop--
			continue
		}
		keep = append(keep, id)
	}
	r.order = keep
}

// initialConfig is a new session's settings: its model's profile, then
// what the client secret it connected with (if any) was minted with.
func (rt *rtConn) initialConfig() realtime.Session {
	o := &rt.srv.opts
	instructions := rt.profile.Instructions
	if instructions == "" {
		instructions = o.SystemPrompt
	}
	td := rt.srv.turnDefaults().Of(realtime.ServerVAD)
	cfg := realtime.Session{
		Model: rt.model, Instructions: instructions, Audio: o.Stages.TTS != nil,
		InputFormat: realtime.FormatPCM, OutputFormat: realtime.FormatPCM, Voice: rt.profile.Voice,
		TurnDetection: &td, ToolChoice: "auto",
	}
	if cfg.Model == "" {
		cfg.Model = rt.profile.Name
	}
	if rt.secret != nil {
		cfg.Apply(rt.secret.update)
	}
	return cfg
}

// newState makes a new session's state.
func (rt *rtConn) newState() *sessionState {
	id := randomToken(12)
	if rt.secret != nil {
		id = rt.secret.sessionID
	}
	cfg := rt.initialConfig()
	cfg.ID = "sess_" + id
	// The language is the client secret's (checked when it was minted),
	// else the default; the pipeline's stages follow from it.
	lang, err := rt.srv.opts.realtimeLanguage(cfg.Transcription)
	if err != nil {
		lang = rt.srv.opts.Language
	}
	conv, lang := rt.srv.conversationIn(lang)
	if rt.profile.Instructions == "" && (rt.secret == nil || rt.secret.update.Instructions == nil) {
		cfg.Instructions = conv.System() // the language's prompt
	}
	st := &sessionState{id: id, owner: rt.c.cred.who, conv: conv, language: lang, rt: &rtState{cfg: cfg, items: map[string]*rtItem{}}}
	st.conv.SetSystem(cfg.Instructions)
	return st
}

// conversationID is the Realtime conversation of a session.
func conversationID(st *sessionState) string { return "conv_" + st.id }

// turnTaking maps Realtime turn detection onto the pipeline's. server_vad's
// threshold scales the detector's: 0.5, the Realtime default, is the
// operator's vad.threshold_db, 1.0 twice it. semantic_vad's eagerness sets
// the silence that ends a turn: low 1 s, high 250 ms, auto and medium the
// operator's vad.silence. null is push-to-talk: the turn ends at commit
// and the reply waits for response.create.
func turnTaking(td *realtime.TurnDetection, base vad.Config) pipeline.TurnTaking {
	if td == nil {
		return pipeline.TurnTaking{Manual: true, NoResponse: true}
	}
	t := pipeline.TurnTaking{NoResponse: !td.CreateResponse, NoBargeIn: !td.InterruptResponse}
	base = base.WithDefaults()
	switch td.Type {
	case realtime.ServerVAD:
		t.VAD.ThresholdDB = max(base.ThresholdDB*td.Threshold/0.5, 0.5)
		t.VAD.Silence = msDuration(td.SilenceDurationMS)
		// The detector's zero means its default: a padding of 0 is 1 ms.
		t.VAD.PrefixPadding = max(msDuration(td.PrefixPaddingMS), msDuration(1))
	case realtime.SemanticVAD:
		switch td.Eagerness {
		case "low":
			t.VAD.Silence = msDuration(1000)
		case "high":
			t.VAD.Silence = msDuration(250)
		}
	}
	return t
}

// fcID is the item ID of the k-th tool call of message msg; callOf reads
// it back.
func fcID(msg string, k int) string { return msg + "_fc" + strconv.Itoa(k) }

func callOf(id string) (msg string, k int, ok bool) {
	i := strings.LastIndex(id, "_fc")
	if i < 0 {
		return "", 0, false
	}
	k, err := strconv.Atoi(id[i+3:])
	return id[:i], k, err == nil && k >= 0
}

// item returns the Realtime item id, from the conversation and the
// records: a message, one of its tool calls, a tool's output, or an item
// the conversation does not hold (a turn heard as nothing, a reply cut
// before a word of it was kept).
func (r *rtState) item(conv *pipeline.Conversation, id string) (realtime.Item, bool) {
	rec := r.items[id]
	if rec != nil && rec.kind == kindCall {
		m, ok := conv.Get(rec.message)
		if !ok || rec.call >= len(m.ToolCalls) {
			return realtime.Item{}, false
		}
		return callItem(id, rec.status, m.ToolCalls[rec.call]), true
	}
	m, ok := conv.Get(id)
	if !ok {
		if msg, k, isCall := callOf(id); isCall {
			if m, ok := conv.Get(msg); ok && k < len(m.ToolCalls) {
				return callItem(id, realtime.StatusCompleted, m.ToolCalls[k]), true
			}
		}
		if rec == nil || rec.transcript == nil {
			return realtime.Item{}, false
		}
		m = pipeline.Message{ID: id, Role: pipeline.RoleUser, Content: *rec.transcript}
		if rec.kind == kindAssistantAudio || rec.kind == kindAssistantText {
			m.Role = pipeline.RoleAssistant
		}
	}
	return messageItem(m, rec), true
}

func callItem(id, status string, call pipeline.ToolCall) realtime.Item {
	return realtime.Item{ID: id, Type: realtime.ItemFunctionCall, Status: status, CallID: call.ID, Name: call.Name, Arguments: call.Arguments}
}

// messageItem is message m as a Realtime item, rec saying how it was made
// (nil: as the history holds it, typed).
func messageItem(m pipeline.Message, rec *rtItem) realtime.Item {
	kind, status := kindUserText, realtime.StatusCompleted
	if rec != nil {
		kind, status = rec.kind, rec.status
	}
	words := m.Content
	if rec != nil && rec.transcript != nil && (kind == kindAssistantAudio || kind == kindAssistantText) {
		words = *rec.transcript
	}
	it := realtime.Item{ID: m.ID, Type: realtime.ItemMessage, Status: status, Role: string(m.Role)}
	switch m.Role {
	case pipeline.RoleTool:
		return realtime.Item{ID: m.ID, Type: realtime.ItemFunctionCallOutput, Status: status, CallID: m.ToolCallID, Output: m.Content}
	case pipeline.RoleUser:
		if kind == kindUserAudio {
			it.Content = []realtime.Content{{Type: realtime.ContentInputAudio, Transcript: &words}}
		} else {
			it.Content = []realtime.Content{{Type: realtime.ContentInputText, Text: words}}
		}
	case pipeline.RoleSystem:
		it.Content = []realtime.Content{{Type: realtime.ContentInputText, Text: words}}
	default:
		if kind == kindAssistantText {
			it.Content = []realtime.Content{{Type: realtime.ContentOutputText, Text: words}}
		} else {
			it.Content = []realtime.Content{{Type: realtime.ContentOutputAudio, Transcript: &words}}
		}
	}
	return it
}

// list returns the conversation as Realtime items, in order: what a
// resumed session replays.
func (r *rtState) list(conv *pipeline.Conversation) []realtime.Item {
	var out []realtime.Item
	for _, m := range conv.History() {
		rec := r.items[m.ID]
		if m.Content != "" || len(m.ToolCalls) == 0 {
			if rec == nil || rec.kind != kindCall {
				out = append(out, messageItem(m, rec))
			}
		}
		for k, call := range m.ToolCalls {
			id := fcID(m.ID, k)
			if rec != nil && rec.kind == kindCall && len(m.ToolCalls) == 1 {
				id = m.ID // a function_call item the client created
			}
			out = append(out, callItem(id, realtime.StatusCompleted, call))
		}
	}
	return out
}

// previous returns the ID of the message before id in the conversation,
// or, when id is not in it (yet), the last one's; "" for none.
func previous(conv *pipeline.Conversation, id string) string {
	h := conv.History()
	for i, m := range h {
		if m.ID == id {
			if i == 0 {
				return ""
			}
			return h[i-1].ID
		}
	}
	if len(h) == 0 {
		return ""
	}
	return h[len(h)-1].ID
}

// kept returns the words of an audio reply a client heard up to endMS:
// the sentences whose audio had ended by then, and of the one playing at
// endMS the words whose audio had begun, reckoned as speech takes time in
// proportion to its letters.
func (it *rtItem) kept(endMS int) string {
	var words []string
	at := int64(endMS)
	for i, s := range it.sentences {
		if s.startMS >= at {
			break
		}
		end := it.audioMS // the last sentence ends with the item's audio
		if i+1 < len(it.sentences) {
			end = it.sentences[i+1].startMS
		}
		if end <= s.startMS || at >= end {
			words = append(words, s.text) // heard whole, or its length unknown yet
			continue
		}
		words = append(words, begunWords(s.text, float64(at-s.startMS)/float64(end-s.startMS)))
	}
	return strings.Join(words, " ")
}

// begunWords returns the words of text that begin before the fraction
// heard of its length in runes: at least the first.
func begunWords(text string, heard float64) string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return ""
	}
	limit := heard * float64(utf8.RuneCountInString(text))
	n, at := 1, 0 // words kept; where the next begins, in runes
	for n < len(words) {
		at += utf8.RuneCountInString(words[n-1]) + 1
		if float64(at) >= limit {
			break
		}
		n++
	}
	return strings.Join(words[:n], " ")
}

// truncate keeps of the reply id what was heard up to endMS, in the
// conversation if it holds the reply (else when it joins it).
func (r *rtState) truncate(conv *pipeline.Conversation, id string, endMS int) error {
	rec := r.items[id]
	if rec == nil || rec.kind != kindAssistantAudio {
		return fmt.Errorf("only an assistant's audio item can be truncated")
	}
	if _, ok := conv.Get(id); !ok && rec.transcript == nil {
		rec.truncateAt, rec.truncating = endMS, true
		return nil
	}
	keep(conv, id, rec, rec.kept(endMS))
	return nil
}

// keep makes text the content of reply id: in the conversation, or in the
// record when nothing is left of it (an empty message is no use to a
// model).
func keep(conv *pipeline.Conversation, id string, rec *rtItem, text string) {
	if text == "" {
		conv.Delete(id)
		rec.transcript = &text
		return
	}
	if !conv.SetContent(id, text) {
		rec.transcript = &text
	}
}

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
