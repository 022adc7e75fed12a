// The page's state and the one function that changes it. reduce(state,
// event, now) returns the next state and leaves the one it was given as it
// was, so the views can skip what did not change (by identity) and the rules
// can be tested without a browser (web/state_test.go runs this file in node;
// it imports nothing for that reason).
//
// Nothing here touches the DOM, the audio engine or the socket. What the
// page must do besides drawing is listed in the new state's effects, which
// app.js carries out: {type: 'flush'} (barge-in: stop the playback now),
// 'start-reply' {turn, rate}, 'end-reply', 'pause-reply' and 'resume-reply'
// (hold the playback, its queue kept, and go on), 'mute' {muted}, 'input-rate'
// {rate}, 'warn' {text} (to the console) and 'probe' (ask /readyz whether
// the server is up, then report 'refused').
//
// Events: {type: 'server', message} for each message from the server
// (gateway/protocol), and the page's own:
//   phase {phase, attempt, retryAt, unreachable, reason}   from the client
//   first-sound {turn, time}, drained {turn}, playback {played, nonZero,
//     underruns, flushes, queuedMs, turn, turnNonZero}      from the worklet
//   rtt {ms}, audio {rate}, audio-failed {message}, failed {message}
//   mic {label} or {problem}, mic-waiting, mic-ended, mute {muted}
//   text {text, sent}, interrupt, refused, tick, banner-close
// now is the page clock (performance.now()) when the event happened.

export const INPUT_RATE = 16000 // what the page asks for; session.started has the final word
const AWAIT_TIMEOUT_MS = 15000 // a turn with no reply by then is no longer "thinking"
const MAX_TURNS = 200
const MAX_PLAYBACK = 50
const MAX_TIMELINE = 200
const MAX_HISTORY = 8

export const WATERFALL_KEYS = [
  'endpoint_ms',
  'asr_final_ms',
  'llm_first_token_ms',
  'first_sentence_ms',
  'tts_first_audio_ms',
  'first_audio_sent_ms',
  'first_sound_ms',
]

const STAGE_NAMES = { asr: 'Speech recognition', llm: 'The language model', tts: 'Speech synthesis', vad: 'Voice detection' }

// initialState is the page before it has connected. host names the server
// in messages.
export function initialState({ host = '' } = {}) {
  return {
    host,
    phase: 'connecting', // the client's: connecting | ready | reconnecting | closed
    fatal: '', // set when the page cannot go on
    everReady: false,
    sessions: 0, // session.started messages seen
    session: null, // the last session.started
    userSpeaking: false,
    awaiting: null, // {turn|null, since} while a reply is expected
    playing: null, // turn whose audio is audible, until drained or flushed
    paused: null, // turn whose playback is held (response.paused), until resumed or cut
    audioTurn: null, // turn whose binary frames are being accepted
    replyTurn: null, // turn the playback worklet was last started for, until a flush
    // Turns below minAudioTurn were cut (by speech or typed text): their
    // audio may still be in flight behind the control message that cut them.
    minAudioTurn: 0,
    maxTurn: 0, // the highest turn number seen in this session
    muted: false,
    mic: { status: 'off', label: '', problem: null }, // status: off | waiting | on | stopped | failed
    contextRate: 0, // the AudioContext's sample rate
    rttMs: null,
    // The conversation as shown: {id, role: user|assistant|system, text,
    // turn|null, classes: partial|pending|streaming|typed|interrupted|
    // divider|error, meta}.
    messages: [],
    nextId: 1,
    // turn → {user, assistant (message ids), stoppedAt, textSentAt,
    // latency, firstSoundAt, speech, cut}
    turns: {},
    pendingTyped: [], // typed messages not yet tied to a turn: {id, sentAt}
    lastLatency: null, // the last turn.latency as shown, with first_sound_ms
    latencyHistory: [], // [{turn, ms}]: first sound of recent turns
    banner: null, // {text, level, owner, action: {label, run: 'mic'|'reconnect'}|null, hideAt}
    retry: null, // {at, attempt, level} while the reconnect countdown runs
    lostBecause: '',
    shown: 'connecting', // the indicator's state, indicator(state)
    entered: { connecting: 1 }, // how many times the indicator entered each state
    playback: {}, // turn → {audible, queuedMs, drained}: recent replies as played
    counters: {
      playedSamples: 0,
      nonZeroSamplesPlayed: 0,
      underruns: 0,
      flushes: 0,
      queuedMs: 0,
      playbackReports: 0,
      bargeIns: 0,
      errors: 0,
    },
    timeline: [], // the last events, for diagnostics: "ms event turn"
    effects: [],
  }
}

// indicator is the state the page shows: connecting, listening,
// user-speaking, thinking, assistant-speaking, reconnecting or error.
export function indicator(s) {
  if (s.fatal) return 'error'
  if (s.phase !== 'ready') return s.everReady || s.phase === 'reconnecting' ? 'reconnecting' : 'connecting'
  if (s.userSpeaking) return 'user-speaking'
  if (s.playing !== null) return 'assistant-speaking'
  if (s.awaiting) return 'thinking'
  return 'listening'
}

// canStop reports whether there is a reply to stop (the Stop button, Esc).
export function canStop(s) {
  return s.phase === 'ready' && (!!s.awaiting || s.playing !== null)
}

export function reduce(state, ev, now) {
  // s is this call's shallow copy: fields are replaced, never changed in
  // place, because state shares them.
  const s = { ...state, effects: [] }
  if (ev.type === 'server') onMessage(s, ev.message, now)
  else onPageEvent(s, ev, now)
  const shown = indicator(s)
  if (shown !== s.shown) {
    s.shown = shown
    s.entered = { ...s.entered, [shown]: (s.entered[shown] || 0) + 1 }
  }
  return s
}

// ------------------------------------------------------------- messages

function onMessage(s, m, now) {
  if (m.type !== 'response.text.delta' && m.type !== 'transcript.partial') {
    mark(s, now, m.type === 'response.cancelled' ? `${m.type}(${m.reason})` : m.type, m.turn)
  }
  if (typeof m.turn === 'number' && m.turn > 0) {
    if (m.turn > s.maxTurn) s.maxTurn = m.turn
    // A typed message learns its turn from the first event of a turn
    // that did not start with speech.
    if (s.pendingTyped.length > 0 && m.type !== 'speech.started') userMessage(s, m.turn, false)
  }
  switch (m.type) {
    case 'session.started':
      return onSessionStarted(s, m, now)
    case 'speech.started':
      // The server's VAD heard the user. If the assistant is talking this
      // is a barge-in: stop playback now, before response.cancelled comes.
      if (s.playing !== null || s.audioTurn !== null) {
        bargeIn(s, now)
        count(s, 'bargeIns')
      }
      s.userSpeaking = true
      s.minAudioTurn = Math.max(s.minAudioTurn, m.turn)
      setTurn(s, m.turn, { speech: true })
      userMessage(s, m.turn)
      return
    case 'transcript.partial':
      return setText(s, userMessage(s, m.turn), m.text, 'partial')
    case 'speech.stopped':
      s.userSpeaking = false
      setTurn(s, m.turn, { stoppedAt: now })
      s.awaiting = { turn: m.turn, since: now }
      return
    case 'transcript.final': {
      const id = userMessage(s, m.turn)
      if (m.text && m.text.trim()) return setText(s, id, m.text)
      removeMessage(s, id)
      setTurn(s, m.turn, { user: null })
      if (s.awaiting && s.awaiting.turn === m.turn) s.awaiting = null
      return
    }
    case 'response.text.delta':
      if (turnOf(s, m.turn).cut) return // in flight when the turn was cut; not kept
      editMessage(s, assistantMessage(s, m.turn), (msg) => ({ ...msg, text: msg.text + m.delta }))
      awaitTurn(s, m.turn, now)
      return
    case 'response.audio.start':
      if (m.turn < s.minAudioTurn || turnOf(s, m.turn).cut) return
      userMessage(s, m.turn, false)
      awaitTurn(s, m.turn, now)
      s.audioTurn = m.turn
      s.replyTurn = m.turn
      s.effects.push({
        type: 'start-reply',
        turn: m.turn,
        rate: m.sample_rate || (s.session && s.session.output_audio && s.session.output_audio.sample_rate),
      })
      return
    case 'response.audio.done':
      if (s.audioTurn === m.turn) s.effects.push({ type: 'end-reply' })
      s.audioTurn = null
      return
    case 'response.done': {
      const id = assistantMessage(s, m.turn)
      if (m.text) setText(s, id, m.text)
      else editMessage(s, id, (msg) => ({ ...msg, classes: msg.classes.filter((c) => c !== 'streaming') }))
      if (!textOf(s, id)) {
        removeMessage(s, id)
        setTurn(s, m.turn, { assistant: null })
      }
      if (s.awaiting && s.awaiting.turn === m.turn) s.awaiting = null
      return
    }
    case 'response.paused':
      // The user may be taking the turn: hold the playback, keep what is
      // queued. speech.started and response.cancelled follow if they are.
      s.paused = m.turn
      s.effects.push({ type: 'pause-reply', turn: m.turn })
      return
    case 'response.resumed':
      // It was a cough or an "mm-hm": play on from where it paused.
      if (s.paused === m.turn) {
        s.paused = null
        s.effects.push({ type: 'resume-reply', turn: m.turn })
      }
      return
    case 'response.cancelled': {
      if (s.paused === m.turn) {
        // Cut while paused: the playback goes on to nothing (flushed).
        s.paused = null
        s.effects.push({ type: 'resume-reply', turn: m.turn })
      }
      // speech.started and response.cancelled share the control lane in
      // either order: whichever stops the playback counts the barge-in.
      if (s.audioTurn === m.turn || s.playing === m.turn) {
        bargeIn(s, now)
        if (m.reason === 'barge_in') count(s, 'bargeIns')
      }
      setTurn(s, m.turn, { cut: true })
      // Only the kept text stays in the conversation (a resume's history
      // shows the same); a reply cut before any of it was spoken goes.
      if (m.text) {
        const id = assistantMessage(s, m.turn)
        setText(s, id, m.text, 'interrupted')
        const meta = m.reason === 'barge_in' ? 'Interrupted' : m.reason === 'interrupt' ? 'Stopped' : 'Failed'
        editMessage(s, id, (msg) => ({ ...msg, meta }))
      } else if (turnOf(s, m.turn).assistant) {
        removeMessage(s, turnOf(s, m.turn).assistant)
        setTurn(s, m.turn, { assistant: null })
      }
      if (s.awaiting && s.awaiting.turn === m.turn) s.awaiting = null
      return
    }
    case 'turn.latency': {
      setTurn(s, m.turn, { latency: m })
      const t = turnOf(s, m.turn)
      if (!t.stoppedAt && !t.textSentAt && m.text_input) userMessage(s, m.turn, false)
      return showLatency(s, m.turn)
    }
    case 'error':
      return onServerError(s, m, now)
  }
}

function onSessionStarted(s, m, now) {
  s.everReady = true
  s.fatal = ''
  hideBanner(s, 'connection')
  s.sessions++
  s.session = m
  if (m.resumed && Array.isArray(m.history)) {
    s.messages = []
    s.turns = {}
    s.pendingTyped = []
    for (const h of m.history) addMessage(s, h.role === 'user' ? 'user' : 'assistant', h.text)
    systemNote(s, 'Reconnected — conversation resumed', 'divider')
  } else if (s.sessions > 1) {
    settleDangling(s, 'Connection lost')
    s.turns = {}
    s.pendingTyped = []
    if (s.messages.length > 0) systemNote(s, 'New session — the previous one could not be resumed', 'divider')
  }
  s.userSpeaking = false
  s.awaiting = null
  s.audioTurn = null
  // A resumed session's turn numbers go on where they stopped; a new
  // session's start again at 1.
  if (!m.resumed) {
    s.minAudioTurn = 0
    s.maxTurn = 0
    s.playback = {}
  }
  if (s.playing !== null) bargeIn(s, now)
  s.effects.push({ type: 'input-rate', rate: (m.input_audio && m.input_audio.sample_rate) || INPUT_RATE })
}

function onServerError(s, m, now) {
  count(s, 'errors')
  s.effects.push({ type: 'warn', text: `voicegate: ${m.code}: ${m.message}` })
  if (m.stage) {
    // A provider failed on this turn; the session goes on.
    const who = STAGE_NAMES[m.stage] || m.stage
    const what =
      {
        provider_timeout: 'did not answer in time',
        provider_rate_limited: 'is rate-limited right now',
        provider_unavailable: 'is unavailable',
        provider_rejected: 'rejected the request',
      }[m.code] || 'failed'
    // The meta line names the stage, the provider and the failure.
    systemNote(s, `${who} ${what}, so this reply was lost. Try again.`, 'error', m.message)
    if (m.turn && s.awaiting && s.awaiting.turn === m.turn) s.awaiting = null
    return
  }
  switch (m.code) {
    case 'resume_failed':
      return // session.started says so when the new session starts
    case 'text_too_long':
      return showBanner(s, now, 'The message is too long; shorten it and send again.', 'warn', 'text', 6000)
    case 'session_busy':
      return showBanner(s, now, 'The assistant is busy with the previous message; try again in a moment.', 'warn', 'text', 5000)
  }
  if (m.fatal) {
    const retry = {
      session_limit: 'The server is full.',
      shutting_down: 'The server is restarting.',
      heartbeat_timeout: 'The connection went quiet.',
      slow_consumer: 'The connection could not keep up.',
    }[m.code]
    if (retry) showBanner(s, now, `${retry} Reconnecting…`, 'warn', 'connection')
  } else {
    showBanner(s, now, `Server error: ${m.message}`, 'warn', 'server', 8000)
  }
}

// ---------------------------------------------------------- page events

function onPageEvent(s, ev, now) {
  switch (ev.type) {
    case 'phase':
      return onPhase(s, ev, now)
    case 'first-sound':
      mark(s, now, 'first-sound', ev.turn)
      if (s.replyTurn !== ev.turn) return // a report that crossed a flush in flight is stale
      s.playing = ev.turn
      setTurn(s, ev.turn, { firstSoundAt: ev.time })
      return showLatency(s, ev.turn)
    case 'drained':
      mark(s, now, 'drained', ev.turn)
      setPlayback(s, ev.turn, { drained: true })
      if (s.playing === ev.turn || s.playing === null) s.playing = null
      return
    case 'playback':
      s.counters = {
        ...s.counters,
        playedSamples: ev.played,
        nonZeroSamplesPlayed: ev.nonZero,
        underruns: ev.underruns,
        flushes: ev.flushes,
        queuedMs: ev.queuedMs,
        playbackReports: s.counters.playbackReports + 1,
      }
      if (ev.turn != null) setPlayback(s, ev.turn, { audible: ev.turnNonZero, queuedMs: ev.queuedMs })
      return
    case 'rtt':
      s.rttMs = ev.ms
      return
    case 'audio':
      s.contextRate = ev.rate
      return
    case 'audio-failed':
      return showBanner(s, now, `Audio is not available in this browser (${ev.message}). You can still type.`, 'error', 'mic')
    case 'failed':
      return showBanner(s, now, `The page failed to start: ${ev.message}`, 'error', 'page')
    case 'mic':
      if (ev.problem) {
        s.mic = { status: 'failed', label: '', problem: ev.problem }
        const retry = ev.problem.kind === 'insecure' ? null : { label: 'Retry', run: 'mic' }
        return showBanner(s, now, ev.problem.text, 'warn', 'mic', 0, retry)
      }
      s.mic = { status: 'on', label: ev.label || '', problem: null }
      return hideBanner(s, 'mic')
    case 'mic-waiting':
      s.mic = { ...s.mic, status: 'waiting' }
      return
    case 'mic-ended':
      s.mic = { ...s.mic, status: 'stopped' }
      return showBanner(s, now, 'The microphone stopped (unplugged or turned off).', 'warn', 'mic', 0, { label: 'Retry', run: 'mic' })
    case 'mute':
      mark(s, now, ev.muted ? 'mute' : 'unmute')
      s.muted = ev.muted
      s.effects.push({ type: 'mute', muted: ev.muted })
      return
    case 'text':
      return onTextSent(s, ev, now)
    case 'interrupt': {
      const n = s.audioTurn ?? s.playing ?? (s.awaiting ? s.awaiting.turn : null)
      if (n !== null) {
        setTurn(s, n, { cut: true })
        s.minAudioTurn = Math.max(s.minAudioTurn, n + 1)
      }
      bargeIn(s, now)
      s.awaiting = null
      return
    }
    case 'refused':
      if (s.phase !== 'reconnecting') return
      return showBanner(
        s,
        now,
        `The server at ${s.host} is up but refuses the connection: check the ?token= in the address (API key) or the allowed origins.`,
        'error',
        'connection',
      )
    case 'tick':
      // A turn that never got a reply (nothing recognised, a lost event)
      // stops showing "thinking" after a while.
      if (s.awaiting && now - s.awaiting.since > AWAIT_TIMEOUT_MS) s.awaiting = null
      if (s.banner && s.banner.hideAt && now >= s.banner.hideAt) s.banner = null
      if (s.retry) {
        if (s.phase === 'reconnecting') countdown(s, now)
        else s.retry = null
      }
      return
    case 'banner-close':
      return hideBanner(s)
  }
}

function onPhase(s, p, now) {
  mark(s, now, `phase:${p.phase}`)
  s.phase = p.phase
  if (p.phase !== 'ready') {
    // No socket, no session: whatever was playing or pending is over.
    s.userSpeaking = false
    s.awaiting = null
    s.audioTurn = null
    if (s.playing !== null) bargeIn(s, now)
  }
  if (p.phase === 'closed') {
    settleDangling(s, 'Connection closed')
    s.fatal = p.reason || 'The session ended.'
    showBanner(s, now, `${s.fatal} Reload the page to start again.`, 'error', 'connection')
  } else if (p.phase === 'reconnecting') {
    reconnectBanner(s, p, now)
  }
}

function reconnectBanner(s, p, now) {
  s.retry = null
  if (p.retryAt === undefined) {
    // The client is dialling again after the wait.
    if (s.lostBecause) showBanner(s, now, `${s.lostBecause} Reconnecting…`, 'warn', 'connection')
    return
  }
  s.lostBecause = p.unreachable
    ? `Can't reach the voicegate server at ${s.host}.`
    : `Connection lost${p.reason ? ` (${p.reason})` : ''}.`
  s.retry = { at: p.retryAt, attempt: p.attempt, level: p.unreachable && p.attempt > 2 ? 'error' : 'warn' }
  countdown(s, now)
  // A wrong ?token= or a disallowed origin is refused before the upgrade,
  // which a browser's WebSocket cannot tell from a server that is down.
  if (p.unreachable && p.attempt === 3) s.effects.push({ type: 'probe' })
}

function countdown(s, now) {
  const left = Math.max(0, s.retry.at - now)
  const when = left > 400 ? `Retrying in ${Math.ceil(left / 1000)} s` : 'Retrying now'
  showBanner(s, now, `${s.lostBecause} ${when} (attempt ${s.retry.attempt}).`, s.retry.level, 'connection', 0, {
    label: 'Retry now',
    run: 'reconnect',
  })
}

function onTextSent(s, ev, now) {
  mark(s, now, 'input.text')
  if (!ev.sent) {
    return showBanner(s, now, 'Not connected yet — your message is kept; send it again in a moment.', 'warn', 'text', 5000)
  }
  // The server cuts the reply in progress; do not wait for it to say so.
  if (s.playing !== null || s.audioTurn !== null) bargeIn(s, now)
  s.minAudioTurn = s.maxTurn + 1
  const id = addMessage(s, 'user', ev.text, null, ['typed'])
  s.pendingTyped = [...s.pendingTyped, { id, sentAt: now }]
  s.awaiting = { turn: null, since: now }
}

// ------------------------------------------------------------- helpers

function mark(s, now, what, turn) {
  s.timeline = [...s.timeline.slice(1 - MAX_TIMELINE), `${now.toFixed(0)} ${what}${turn != null ? ` ${turn}` : ''}`]
}

function count(s, key) {
  s.counters = { ...s.counters, [key]: s.counters[key] + 1 }
}

// bargeIn stops the playback at once and stops accepting the reply's audio.
function bargeIn(s, now) {
  mark(s, now, 'flush', s.playing ?? s.audioTurn)
  s.effects.push({ type: 'flush' })
  s.playing = null
  s.audioTurn = null
  s.replyTurn = null
}

// awaitTurn notes that a reply for turn n is under way (typed turns learn
// their number here).
function awaitTurn(s, n, now) {
  if (!s.awaiting || s.awaiting.turn === null) s.awaiting = { turn: n, since: now }
}

const NO_TURN = Object.freeze({
  user: null,
  assistant: null,
  stoppedAt: 0,
  textSentAt: 0,
  latency: null,
  firstSoundAt: 0,
  speech: false,
  cut: false,
})

function turnOf(s, n) {
  return s.turns[n] || NO_TURN
}

function setTurn(s, n, patch) {
  s.turns = capped({ ...s.turns, [n]: { ...turnOf(s, n), ...patch } }, MAX_TURNS)
}

function setPlayback(s, n, patch) {
  const p = s.playback[n] || { audible: 0, queuedMs: 0, drained: false }
  s.playback = capped({ ...s.playback, [n]: { ...p, ...patch } }, MAX_PLAYBACK)
}

// capped drops the lowest turn numbers of a fresh copy beyond max.
function capped(byTurn, max) {
  const keys = Object.keys(byTurn) // integer keys come in ascending order
  for (let i = 0; i < keys.length - max; i++) delete byTurn[keys[i]]
  return byTurn
}

function addMessage(s, role, text, turn = null, classes = [], meta = '') {
  const id = s.nextId++
  s.messages = [...s.messages, { id, role, text, turn, classes, meta }]
  return id
}

function systemNote(s, text, cls, meta = '') {
  return addMessage(s, 'system', text, null, cls ? [cls] : [], meta)
}

function editMessage(s, id, edit) {
  s.messages = s.messages.map((m) => (m.id === id ? edit(m) : m))
}

function removeMessage(s, id) {
  s.messages = s.messages.filter((m) => m.id !== id)
}

function textOf(s, id) {
  const m = s.messages.find((m) => m.id === id)
  return m ? m.text : ''
}

const PROVISIONAL = ['partial', 'pending', 'streaming']

// setText replaces a message's text and settles it: it is no longer
// partial, pending or streaming, and gets classes.
function setText(s, id, text, ...classes) {
  editMessage(s, id, (m) => ({ ...m, text, classes: [...m.classes.filter((c) => !PROVISIONAL.includes(c)), ...classes] }))
}

// userMessage returns the id of the user's message for turn n, creating it
// (or adopting a typed message still waiting for its turn).
function userMessage(s, n, create = true) {
  const t = turnOf(s, n)
  if (!t.user && !t.speech && s.pendingTyped.length > 0) {
    const [typed, ...rest] = s.pendingTyped
    s.pendingTyped = rest
    editMessage(s, typed.id, (m) => ({ ...m, turn: n }))
    setTurn(s, n, { user: typed.id, textSentAt: typed.sentAt })
    if (s.awaiting && s.awaiting.turn === null) s.awaiting = { ...s.awaiting, turn: n }
  }
  if (!turnOf(s, n).user && create) setTurn(s, n, { user: addMessage(s, 'user', '…', n, ['pending']) })
  return turnOf(s, n).user
}

function assistantMessage(s, n) {
  userMessage(s, n, false) // a typed message's turn is learned from its first reply event
  if (!turnOf(s, n).assistant) setTurn(s, n, { assistant: addMessage(s, 'assistant', '', n, ['streaming']) })
  return turnOf(s, n).assistant
}

// settleDangling closes the messages of turns that will never finish.
function settleDangling(s, note) {
  s.messages = s.messages
    .filter((m) => !(m.role === 'user' && m.classes.includes('pending')))
    .map((m) => {
      if (m.role === 'assistant' && m.classes.includes('streaming')) {
        return { ...m, classes: m.classes.map((c) => (c === 'streaming' ? 'interrupted' : c)), meta: note }
      }
      if (m.role === 'user' && m.classes.includes('partial')) return { ...m, classes: m.classes.filter((c) => c !== 'partial') }
      return m
    })
}

function showBanner(s, now, text, level, owner, hideAfterMs = 0, action = null) {
  s.banner = { text, level, owner, action, hideAt: hideAfterMs ? now + hideAfterMs : 0 }
}

// hideBanner hides the banner if owner's (any banner without an owner).
function hideBanner(s, owner) {
  if (owner && (!s.banner || s.banner.owner !== owner)) return
  if (owner === 'connection') s.retry = null
  s.banner = null
}

// ------------------------------------------------------------- latency

// firstSoundMs is the page's own measurement: how long after the end of the
// user's speech the first audible sample of the reply left the speakers.
//
// The end of speech is a moment on the server's clock, which the page cannot
// read. So it anchors on speech.stopped: the server sends it when it declares
// the endpoint, endpoint_ms after the end of speech. The page notes when it
// arrives (stoppedAt), and when the reply's first non-zero sample is played
// (firstSoundAt: the playback worklet reports the sample's context time and
// getOutputTimestamp maps it to performance.now(), output latency included).
// Then
//
//   first sound = (firstSoundAt − stoppedAt) + endpoint_ms
//
// which is on the same time base as the server's figures in turn.latency.
// The downstream network delay appears in both arrival times and cancels;
// what is added on top of first_audio_sent_ms is the network, the page's
// jitter buffer and the audio output. What is left out is the capture side
// (microphone, worklet, upstream network), which no single clock can see.
// For a typed turn the anchor is the moment the page sent input.text.
export function firstSoundMs(t) {
  if (!t.firstSoundAt) return null
  if (t.stoppedAt) {
    const endpoint = t.latency && typeof t.latency.endpoint_ms === 'number' ? t.latency.endpoint_ms : null
    if (endpoint === null) return null
    return t.firstSoundAt - t.stoppedAt + endpoint
  }
  if (t.textSentAt) return t.firstSoundAt - t.textSentAt
  return null
}

// showLatency makes turn n's latency the one shown, once turn.latency came.
function showLatency(s, n) {
  const t = turnOf(s, n)
  const m = t.latency
  if (!m) return
  const values = {}
  for (const k of WATERFALL_KEYS) if (typeof m[k] === 'number') values[k] = m[k]
  if (m.text_input) {
    // A typed turn's clock starts when it arrives: no endpoint, no ASR.
    delete values.endpoint_ms
    delete values.asr_final_ms
  }
  const fs = firstSoundMs(t)
  if (fs !== null) values.first_sound_ms = fs
  s.lastLatency = { turn: n, text_input: !!m.text_input, cancelled: !!m.cancelled, ...values }
  if (fs !== null) {
    const h = { turn: n, ms: fs }
    s.latencyHistory = s.latencyHistory.some((x) => x.turn === n)
      ? s.latencyHistory.map((x) => (x.turn === n ? h : x))
      : [...s.latencyHistory, h].slice(-MAX_HISTORY)
  }
}
