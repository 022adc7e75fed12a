// Package pipeline turns a stream of microphone audio into a spoken
// conversation: voice activity detection and speech recognition on the way
// in, a language model and speech synthesis on the way out.
//
// Start with the stage contracts in stages.go — Recognizer (ASR), Generator
// (LLM) and Synthesizer (TTS) — which providers implement, and Session, which
// runs one conversation:
//
//	sess, err := pipeline.NewSession(pipeline.Config{Stages: stages, Conversation: conv})
//	go sess.Run(ctx, out)     // events go to out: transcripts, text, audio, latency
//	sess.WriteAudio(samples)  // from the connection's reader; never blocks
//
// A Session has two goroutines, both owned by Run. The input loop feeds
// audio through the voice activity detector and into the recogniser, and
// starts a turn when the user stops speaking. The detector is package vad's;
// Stages.VAD, a VoiceActivity, may hand its per-window decision to a model
// (one Classifier per session), the endpointing staying the detector's. The turn worker runs turns one
// at a time: it finishes recognition, streams the model's reply through a
// sentence Chunker into synthesis, and paces the audio out no more than
// PlayoutLead ahead of real time.
//
// Queues are bounded and each has a policy: audio from the client goes
// through a drop-oldest inbox (the reader never blocks), typed text through a
// small queue that reports ErrBusy, and Interrupt through a one-slot signal
// the input loop checks before any queued audio.
//
// Barge-in is a context cancellation: when the user speaks over a reply,
// the turn's context is cancelled with a CancelReason as its cause, every
// stage stops, the client is told (EventResponseCancelled, whose Reason is
// that CancelReason), and the Conversation keeps only the sentences whose
// audio had started going out. Speech over a reply first only pauses it
// (EventReplyPaused: its audio is held, its model and synthesis go on); it
// cuts the reply once it has TurnConfig's voice and words, and a cough or
// a backchannel ("mm-hm"), judged by its final transcript off the input
// loop, lets the reply resume (EventReplyResumed) and leaves no turn. The
// silence that ends a turn follows its words and pitch (audio/prosody):
// see TurnConfig.
//
// How a turn ends is the Session's TurnTaking: by default the detector
// ends it and a reply follows; a client that drives turns itself (push to
// talk, or replies only when it asks) sets Manual or NoResponse and calls
// Commit, ClearInput and Respond. These control methods run on the input
// loop after the audio already written, so they keep the client's order.
//
// A Generator that is also a ToolGenerator may call tools. The Session's
// own tools (Config.Tools, with a Call) run within the reply, which goes on
// with their results; a client's tool (SetTools) ends the reply with
// EventToolCall, and the client's result, appended to the Conversation as a
// RoleTool message, is answered by Respond. Events name the Conversation
// message they belong to (Event.Item), so a client can refer to it
// (Conversation.Get, SetContent, Delete).
//
// Each turn has two records. Its Turn handle, on every event of the turn,
// is shared with the Output: the Output reports through it which audio
// reached the wire (AudioOnWire) and learns from it that the turn was cut
// (IsCut). Its Trace — end of speech, endpoint, ASR final, LLM first token,
// first sentence, TTS first audio, and the provider that answered each
// stage — is written by the Session alone and handed over, complete, on
// EventTurnLatency when the turn ends. Providers are known by their Name
// (NameOf); one that delegates, such as a fallback chain, reports the
// member that answered a call with Answered.
package pipeline
