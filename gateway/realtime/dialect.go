package realtime

// Dialect is the version of the Realtime protocol a connection speaks.
type Dialect uint8

// The dialects.
const (
	// GA is the generally available interface, served by default: nested
	// session.audio settings, output_modalities, response.output_audio.*
	// and conversation.item.added/done.
	GA Dialect = iota
	// Beta is the interface clients ask for with the header "OpenAI-Beta:
	// realtime=v1" or the subprotocol "openai-beta.realtime-v1": a flat
	// session object, modalities, response.audio.* and
	// conversation.item.created.
	Beta
)

// String returns "ga" or "beta".
func (d Dialect) String() string {
	if d == Beta {
		return "beta"
	}
	return "ga"
}

// Client event types. Both dialects name them alike.
const (
	TypeSessionUpdate       = "session.update"
	TypeAppend              = "input_audio_buffer.append"
	TypeCommit              = "input_audio_buffer.commit"
	TypeClear               = "input_audio_buffer.clear"
	TypeItemCreate          = "conversation.item.create"
	TypeItemRetrieve        = "conversation.item.retrieve"
	TypeItemTruncate        = "conversation.item.truncate"
	TypeItemDelete          = "conversation.item.delete"
	TypeResponseCreate      = "response.create"
	TypeResponseCancel      = "response.cancel"
	TypeOutputAudioClear    = "output_audio_buffer.clear"    // GA, WebRTC and SIP only
	TypeTranscriptionUpdate = "transcription_session.update" // beta transcription sessions
)

// Server event types, by their GA names; Dialect.Name gives a dialect's.
const (
	EventError                   = "error"
	EventSessionCreated          = "session.created"
	EventSessionUpdated          = "session.updated"
	EventConversationCreated     = "conversation.created" // beta only
	EventSpeechStarted           = "input_audio_buffer.speech_started"
	EventSpeechStopped           = "input_audio_buffer.speech_stopped"
	EventCommitted               = "input_audio_buffer.committed"
	EventCleared                 = "input_audio_buffer.cleared"
	EventItemAdded               = "conversation.item.added" // beta: conversation.item.created
	EventItemDone                = "conversation.item.done"  // GA only
	EventItemRetrieved           = "conversation.item.retrieved"
	EventItemTruncated           = "conversation.item.truncated"
	EventItemDeleted             = "conversation.item.deleted"
	EventTranscriptionDelta      = "conversation.item.input_audio_transcription.delta"
	EventTranscriptionCompleted  = "conversation.item.input_audio_transcription.completed"
	EventTranscriptionFailed     = "conversation.item.input_audio_transcription.failed"
	EventResponseCreated         = "response.created"
	EventResponseDone            = "response.done"
	EventOutputItemAdded         = "response.output_item.added"
	EventOutputItemDone          = "response.output_item.done"
	EventContentPartAdded        = "response.content_part.added"
	EventContentPartDone         = "response.content_part.done"
	EventAudioDelta              = "response.output_audio.delta"            // beta: response.audio.delta
	EventAudioDone               = "response.output_audio.done"             // beta: response.audio.done
	EventAudioTranscriptDelta    = "response.output_audio_transcript.delta" // beta: response.audio_transcript.delta
	EventAudioTranscriptDone     = "response.output_audio_transcript.done"  // beta: response.audio_transcript.done
	EventTextDelta               = "response.output_text.delta"             // beta: response.text.delta
	EventTextDone                = "response.output_text.done"              // beta: response.text.done
	EventFunctionArgumentsDelta  = "response.function_call_arguments.delta"
	EventFunctionArgumentsDone   = "response.function_call_arguments.done"
	EventRateLimitsUpdated       = "rate_limits.updated"
	EventVoicegateResumable      = "voicegate.session.resumable" // voicegate's extension: how to resume this session
	eventBetaItemCreated         = "conversation.item.created"
	eventBetaAudioDelta          = "response.audio.delta"
	eventBetaAudioDone           = "response.audio.done"
	eventBetaAudioTranscriptDone = "response.audio_transcript.done"
	eventBetaTextDelta           = "response.text.delta"
	eventBetaTextDone            = "response.text.done"
	eventBetaTranscriptDelta     = "response.audio_transcript.delta"
)

// betaNames maps the GA server events whose names differ in the beta.
var betaNames = map[string]string{
	EventItemAdded:            eventBetaItemCreated,
	EventItemDone:             "",
	EventAudioDelta:           eventBetaAudioDelta,
	EventAudioDone:            eventBetaAudioDone,
	EventAudioTranscriptDelta: eventBetaTranscriptDelta,
	EventAudioTranscriptDone:  eventBetaAudioTranscriptDone,
	EventTextDelta:            eventBetaTextDelta,
	EventTextDone:             eventBetaTextDone,
}

// betaOnly are the events the beta has and GA lacks.
var betaOnly = map[string]bool{EventConversationCreated: true}

// Name returns the dialect's name of the server event ga (a GA name), or
// "" when the dialect has no such event and it is not to be sent.
func (d Dialect) Name(ga string) string {
	if d == GA {
		if betaOnly[ga] {
			return ""
		}
		return ga
	}
	if b, ok := betaNames[ga]; ok {
		return b
	}
	return ga
}

// GAName returns the GA name of a server event named name in dialect d:
// the inverse of Name, for clients and tests that read both dialects.
func (d Dialect) GAName(name string) string {
	if d == Beta {
		for ga, b := range betaNames {
			if b == name && b != "" {
				return ga
			}
		}
	}
	return name
}
