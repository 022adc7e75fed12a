// window.voicegate: read-only diagnostics for the end-to-end test
// (e2e/browser_test.go) and for curious users in the console. Getters
// return copies; nothing here changes the session except dropSocket, which
// closes the WebSocket as a network failure would (the resume token is
// kept, so the page reconnects and resumes).
//
//   state           the indicator's state: connecting, listening,
//                   user-speaking, thinking, assistant-speaking,
//                   reconnecting or error
//   entered         how many times the indicator entered each state: a
//                   state can be shorter than a poll, a count cannot be missed
//   session         {id, resumed, providers, inputRate, outputRate, contextRate}
//   counters        playback counters measured in the playback worklet
//                   (playedSamples, nonZeroSamplesPlayed, underruns, flushes,
//                   queuedMs: audio waiting in its jitter buffer),
//                   playbackReports (its reports received, ~10 a second),
//                   flushesSent (flushes posted to it; flushes counts those
//                   it applied), audio frames received/dropped, barge-ins
//                   (replies whose playback the user's speech stopped),
//                   server errors, and the client's connects, reconnects,
//                   sessions, resumes, pongs, framesSent, framesDropped
//   playback        the recent replies' playback by turn: {audible samples
//                   played, queuedMs, drained (played to the end)}
//   lastLatency     the last turn.latency as shown, with first_sound_ms
//   rttMs           the last heartbeat round trip
//   micError        why the microphone is off, or null
//   timeline        the last 200 events as "page-ms event turn" lines
//   messages        the conversation as shown (read from the page):
//                   [{role, text, turn}]
//   dropSocket()    force-drop the WebSocket (resume is kept)

// exposeTestHook publishes window.voicegate. getState returns the page's
// current state (state.js); frames counts the reply audio frames received
// and dropped; log is the conversation's list element.
export function exposeTestHook({ getState, client, engine, frames, log }) {
  const hook = {
    get state() {
      return getState().shown
    },
    get entered() {
      return { ...getState().entered }
    },
    get session() {
      const { session: s, contextRate } = getState()
      return s
        ? {
            id: s.session_id,
            resumed: !!s.resumed,
            providers: { ...s.providers },
            inputRate: s.input_audio && s.input_audio.sample_rate,
            outputRate: s.output_audio && s.output_audio.sample_rate,
            contextRate,
          }
        : null
    },
    get counters() {
      return {
        ...getState().counters,
        audioFramesReceived: frames.received,
        audioFramesDropped: frames.dropped,
        flushesSent: engine.flushesSent,
        ...client.stats,
      }
    },
    get playback() {
      return structuredClone(getState().playback)
    },
    get lastLatency() {
      const l = getState().lastLatency
      return l ? { ...l } : null
    },
    get rttMs() {
      return getState().rttMs
    },
    get timeline() {
      return [...getState().timeline]
    },
    get micError() {
      const p = getState().mic.problem
      return p ? p.kind : null
    },
    get messages() {
      return [...log.querySelectorAll('.msg.user, .msg.assistant')].map((li) => ({
        role: li.classList.contains('user') ? 'user' : 'assistant',
        text: li.querySelector('.text').textContent,
        turn: li.dataset.turn ? Number(li.dataset.turn) : null,
      }))
    },
    dropSocket() {
      client.drop()
    },
  }
  Object.defineProperty(window, 'voicegate', { value: Object.freeze(hook), enumerable: true })
}
