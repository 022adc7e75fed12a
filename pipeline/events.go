package pipeline

import (
	"time"

	"github.com/voicegate/voicegate/audio"
)

// EventKind tells what an Event reports.
type EventKind uint8

// The events a Session sends to its Output, in the order a turn produces them.
const (
	// EventSpeechStarted: the user started speaking; Offset is the stream
	// position. Over a reply it waits, the reply paused, until the speech
	// proves a barge-in; speech that does not (a cough, "mm-hm") sends no
	// events of its own.
	EventSpeechStarted     EventKind = iota + 1
	EventSpeechStopped               // the user stopped speaking; Offset is the stream position
	EventTranscriptPartial           // Text is the recogniser's current hypothesis
	EventTranscriptFinal             // Text is the user's words for this turn
	EventTextDelta                   // Text is the next piece of the reply
	EventAudioStart                  // reply audio follows, in Format
	EventAudio                       // Audio is reply audio in the Output's format
	EventAudioDone                   // no more reply audio for this turn
	EventResponseDone                // Text is the whole reply
	EventResponseCancelled           // the reply was cut (barge-in or interrupt); Text is what was kept
	EventTurnLatency                 // Trace is the turn's latency record, complete
	EventError                       // Err says what failed; the session goes on
	EventSentence                    // Text is the reply sentence whose audio follows; Sentence numbers it
	EventToolCall                    // Call is a tool the model asked to run; a client tool's result comes back as a RoleTool message
	EventToolResult                  // Call ran on the server (Tool.Call); Text is its result
	EventInputCommitted              // the user's speech ended and will be transcribed into message Item
	// EventReplyPaused: speech began over the reply of Turn, which holds
	// its audio until the speech proves a barge-in (EventSpeechStarted,
	// then EventResponseCancelled) or not (EventReplyResumed). A client
	// pauses its playback and keeps what it has queued.
	EventReplyPaused
	EventReplyResumed // the reply of Turn goes on where it paused; a client resumes its playback
)

var kindNames = [...]string{
	EventSpeechStarted:     "speech_started",
	EventSpeechStopped:     "speech_stopped",
	EventTranscriptPartial: "transcript_partial",
	EventTranscriptFinal:   "transcript_final",
	EventTextDelta:         "text_delta",
	EventAudioStart:        "audio_start",
	EventAudio:             "audio",
	EventAudioDone:         "audio_done",
	EventResponseDone:      "response_done",
	EventResponseCancelled: "response_cancelled",
	EventTurnLatency:       "turn_latency",
	EventError:             "error",
	EventSentence:          "sentence",
	EventToolCall:          "tool_call",
	EventToolResult:        "tool_result",
	EventInputCommitted:    "input_committed",
	EventReplyPaused:       "reply_paused",
	EventReplyResumed:      "reply_resumed",
}

func (k EventKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one thing a Session tells its client. Which fields are set depends
// on Kind.
type Event struct {
	Kind EventKind
	Turn uint64 // the turn this event belongs to; 0 for none
	// Item is the ID of the Conversation message the event's content
	// belongs to: the user's message on speech, commit and transcript
	// events, the reply's on reply events (a reply that calls tools has
	// a message per round). A reply's message is in the history from its
	// EventToolCall or EventToolResult, else from its EventResponseDone or
	// EventResponseCancelled on (none is kept when nothing was said).
	Item  string
	Text  string  // transcript, reply delta or whole reply
	Audio []int16 // EventAudio: owned by the Session, valid only during Send
	// Sentence numbers the reply sentence an EventAudio belongs to, from 1.
	Sentence int
	Format   audio.Format  // EventAudioStart: the format of the audio that follows
	Offset   time.Duration // speech events: position in the input stream
	Handle   *Turn         // set on every event of a turn: its wire and cut state
	// Reason is why the turn was cut, on EventResponseCancelled and the
	// EventTurnLatency after it; zero on a turn that completed.
	Reason CancelReason
	Trace  *Trace    // EventTurnLatency: the turn's latency record
	Err    error     // EventError: a *StageError or a session-level error
	Call   *ToolCall // EventToolCall, EventToolResult
}

// Trace is the latency record of one turn: when it reached each milestone,
// and which provider answered each stage. Times are zero when a stage did
// not run. The Session writes it while the turn runs and hands it over,
// complete, on the turn's EventTurnLatency; from then on it is only read.
// When the reply's audio reached the wire is the Output's to know
// (Turn.FirstAudioSent).
type Trace struct {
	Turn uint64
	// ASR, LLM and TTS name the provider that answered each stage: the
	// one reported with Answered (a fallback chain's member), else the
	// stage's provider (NameOf).
	ASR, LLM, TTS string
	TextInput     bool // the turn began with typed text, not speech

	SpeechEnd     time.Time // last voiced audio arrived (speech turns)
	Endpoint      time.Time // the VAD or the recogniser declared the end of speech
	ASRFinal      time.Time // the final transcript was ready
	LLMFirstToken time.Time
	FirstSentence time.Time // the first sentence was ready for synthesis
	TTSFirstAudio time.Time
	// LLMDone is when the model's last call of the reply ended (with a
	// tool round, the round after the tools); TTSDone when the last
	// sentence's synthesis ended, its audio paced out; Done when the turn
	// ended, as its EventTurnLatency was made.
	LLMDone, TTSDone, Done time.Time
	// Err is the stage failure that ended the turn, if one did (the
	// StageError the Output was sent as EventError); nil otherwise.
	Err *StageError
}

// Start returns the moment the turn's clock starts: the end of speech for a
// spoken turn, the endpoint otherwise (text input sets Endpoint on arrival).
func (t *Trace) Start() time.Time {
	if !t.SpeechEnd.IsZero() {
		return t.SpeechEnd
	}
	return t.Endpoint
}

// Since returns how long after Start the moment at came, or -1 if either is
// unknown.
func (t *Trace) Since(at time.Time) time.Duration {
	s := t.Start()
	if s.IsZero() || at.IsZero() {
		return -1
	}
	return at.Sub(s)
}

// Output receives a Session's events. The Session calls Send from several of
// its goroutines, so implementations must be safe for concurrent use. Send
// must not block for long: a slow client gets the Output's slow-consumer
// policy (drop or disconnect), never a stalled pipeline. Send must not
// retain ev.Audio. An Output that queues audio must call
// ev.Handle.AudioOnWire just before each EventAudio goes on the wire, and
// drop the audio when it returns false. Send must not call the Session's
// control methods (Respond, Commit, …): they wait for the goroutine that
// is sending. Once ev.Handle.IsCut, the turn's
// queued reply output is stale: the Session cuts a turn before it sends
// EventResponseCancelled, so an Output may drop the rest of the reply.
type Output interface {
	Send(ev Event)
}

// OutputFunc adapts a function to Output.
type OutputFunc func(Event)

// Send calls f(ev).
func (f OutputFunc) Send(ev Event) { f(ev) }
