// voicegate's page: wires the protocol client (client.js) and the audio
// engine (audio.js) to the DOM. Start reading at main() at the bottom.
//
// Query parameters: token=<API key> is passed on to the WebSocket (browsers
// cannot set its headers); ec=0, ns=0, agc=0 turn off the browser's echo
// cancellation, noise suppression and automatic gain control (all on by
// default).

import { VoiceClient } from './client.js'
import { AudioEngine, micProblem } from './audio.js'
import { startScope } from './scope.js'

const INPUT_RATE = 16000 // what the page asks for; session.started has the final word
const AWAIT_TIMEOUT_MS = 15000 // a turn with no reply by then is no longer "thinking"

const $ = (id) => document.getElementById(id)

const STATE_LABELS = {
  connecting: 'Connecting…',
  listening: 'Listening',
  'user-speaking': 'You are speaking',
  thinking: 'Thinking…',
  'assistant-speaking': 'Speaking',
  reconnecting: 'Reconnecting…',
  error: 'Error',
}

const STAGE_NAMES = { asr: 'Speech recognition', llm: 'The language model', tts: 'Speech synthesis', vad: 'Voice detection' }

const WATERFALL_KEYS = [
  'endpoint_ms',
  'asr_final_ms',
  'llm_first_token_ms',
  'first_sentence_ms',
  'tts_first_audio_ms',
  'first_audio_sent_ms',
  'first_sound_ms',
]

// ---------------------------------------------------------------- state

const ui = {
  phase: 'connecting', // client phase: connecting | ready | reconnecting | closed
  fatal: '', // set when the page cannot go on
  userSpeaking: false,
  awaiting: null, // {turn|null, since} while a reply is expected
  playing: null, // turn whose audio is audible, until drained or flushed
  audioTurn: null, // turn whose binary frames are being accepted
  // Turns below minAudioTurn were cut (by speech or typed text): their
  // audio may still be in flight behind the control message that cut them.
  minAudioTurn: 0,
  maxTurn: 0, // the highest turn number seen in this session
  muted: false,
  everReady: false,
}

const turns = new Map() // turn → {user, assistant, stoppedAt, textSentAt, latency, firstSoundAt, speech}
const pendingTyped = [] // typed messages not yet tied to a turn: {el, sentAt, text}
const latencyHistory = []
let lastLatency = null
const timeline = [] // the last events, for diagnostics: "ms event turn"

const counters = {
  playedSamples: 0,
  nonZeroSamplesPlayed: 0,
  underruns: 0,
  flushes: 0,
  queuedMs: 0,
  audioFramesReceived: 0,
  audioFramesDropped: 0,
  bargeIns: 0,
  errors: 0,
  playbackReports: 0,
}
// Latches for waits that must not miss a short moment: how many times the
// indicator entered each state, and each recent reply's playback by turn.
const entered = { connecting: 1 }
const playback = new Map() // turn → {audible, queuedMs, drained}

let client
let engine
let rttMs = null

function turnOf(n) {
  let t = turns.get(n)
  if (!t) {
    t = { user: null, assistant: null, stoppedAt: 0, textSentAt: 0, latency: null, firstSoundAt: 0, speech: false, cut: false }
    turns.set(n, t)
    if (turns.size > 200) turns.delete(turns.keys().next().value)
  }
  return t
}

// --------------------------------------------------------- state display

function computeState() {
  if (ui.fatal) return 'error'
  if (ui.phase !== 'ready') return ui.everReady || ui.phase === 'reconnecting' ? 'reconnecting' : 'connecting'
  if (ui.userSpeaking) return 'user-speaking'
  if (ui.playing !== null) return 'assistant-speaking'
  if (ui.awaiting) return 'thinking'
  return 'listening'
}

function renderState() {
  const s = computeState()
  const el = $('state')
  if (el.dataset.state !== s) {
    entered[s] = (entered[s] || 0) + 1
    el.dataset.state = s
    document.body.dataset.state = s
  }
  let label = STATE_LABELS[s]
  if (s === 'listening' && ui.muted) label = 'Muted'
  if (s === 'listening' && !engine.hasMic) label = micFailure ? 'Ready — type a message' : 'Ready'
  $('state-label').textContent = label
  $('stop').hidden = !(ui.phase === 'ready' && (ui.awaiting || ui.playing !== null))
  $('send').disabled = ui.phase !== 'ready'
}

// ------------------------------------------------------------ messages

function addMessage(role, text, opts = {}) {
  const li = document.createElement('li')
  li.className = `msg ${role}`
  if (opts.turn != null) li.dataset.turn = opts.turn
  if (role !== 'system') {
    const who = document.createElement('div')
    who.className = 'who'
    who.textContent = role === 'user' ? 'You' : 'Assistant'
    li.append(who)
  }
  const bubble = document.createElement('div')
  bubble.className = 'bubble'
  const p = document.createElement('p')
  p.className = 'text'
  p.textContent = text
  bubble.append(p)
  li.append(bubble)
  const meta = document.createElement('div')
  meta.className = 'meta'
  li.append(meta)
  for (const c of opts.classes || []) li.classList.add(c)
  const log = $('conversation')
  const stick = isScrolledDown()
  log.append(li)
  $('empty').hidden = true
  if (stick) scrollDown()
  return li
}

function setText(li, text, ...classes) {
  const stick = isScrolledDown()
  li.querySelector('.text').textContent = text
  li.classList.remove('partial', 'pending', 'streaming')
  for (const c of classes) li.classList.add(c)
  if (stick) scrollDown()
}

function setMeta(li, text) {
  li.querySelector('.meta').textContent = text
}

function systemNote(text, cls) {
  return addMessage('system', text, { classes: cls ? [cls] : [] })
}

function isScrolledDown() {
  const w = $('conversation').parentElement
  return w.scrollHeight - w.scrollTop - w.clientHeight < 48
}

function scrollDown() {
  const w = $('conversation').parentElement
  w.scrollTop = w.scrollHeight
}

// userMessage returns the user's bubble for turn n, creating it (or
// adopting a typed message still waiting for its turn).
function userMessage(n, create = true) {
  const t = turnOf(n)
  if (!t.user && !t.speech && pendingTyped.length > 0) {
    const typed = pendingTyped.shift()
    t.user = typed.el
    t.textSentAt = typed.sentAt
    t.user.dataset.turn = n
    if (ui.awaiting && ui.awaiting.turn === null) ui.awaiting.turn = n
  }
  if (!t.user && create) t.user = addMessage('user', '…', { turn: n, classes: ['pending'] })
  return t.user
}

function assistantMessage(n) {
  const t = turnOf(n)
  userMessage(n, false) // a typed message's turn is learned from its first reply event
  if (!t.assistant) t.assistant = addMessage('assistant', '', { turn: n, classes: ['streaming'] })
  return t.assistant
}

// settleDangling closes the bubbles of turns that will never finish.
function settleDangling(note) {
  const log = $('conversation')
  for (const li of log.querySelectorAll('.msg.assistant.streaming')) {
    li.classList.replace('streaming', 'interrupted')
    setMeta(li, note)
  }
  for (const li of log.querySelectorAll('.msg.user.pending')) li.remove()
  for (const li of log.querySelectorAll('.msg.user.partial')) li.classList.remove('partial')
}

function redrawHistory(history) {
  $('conversation').replaceChildren()
  turns.clear()
  pendingTyped.length = 0
  for (const h of history || []) addMessage(h.role === 'user' ? 'user' : 'assistant', h.text)
  $('empty').hidden = $('conversation').childElementCount > 0
}

// ------------------------------------------------------------- protocol

// mark appends to the diagnostic timeline.
function mark(what, turn) {
  timeline.push(`${performance.now().toFixed(0)} ${what}${turn != null ? ` ${turn}` : ''}`)
  if (timeline.length > 200) timeline.shift()
}

function onMessage(m) {
  if (m.type !== 'response.text.delta' && m.type !== 'transcript.partial') mark(m.type === 'response.cancelled' ? `${m.type}(${m.reason})` : m.type, m.turn)
  if (typeof m.turn === 'number' && m.turn > 0) {
    if (m.turn > ui.maxTurn) ui.maxTurn = m.turn
    // A typed message learns its turn from the first event of a turn
    // that did not start with speech.
    if (pendingTyped.length > 0 && m.type !== 'speech.started') userMessage(m.turn, false)
  }
  switch (m.type) {
    case 'session.started':
      return onSessionStarted(m)
    case 'speech.started': {
      // The server's VAD heard the user. If the assistant is talking this
      // is a barge-in: stop playback now, before response.cancelled comes.
      if (ui.playing !== null || ui.audioTurn !== null) {
        bargeIn()
        counters.bargeIns++
      }
      ui.userSpeaking = true
      ui.minAudioTurn = Math.max(ui.minAudioTurn, m.turn)
      const t = turnOf(m.turn)
      t.speech = true
      userMessage(m.turn)
      break
    }
    case 'transcript.partial': {
      const li = userMessage(m.turn)
      setText(li, m.text, 'partial')
      break
    }
    case 'speech.stopped': {
      ui.userSpeaking = false
      const t = turnOf(m.turn)
      t.stoppedAt = performance.now()
      ui.awaiting = { turn: m.turn, since: performance.now() }
      break
    }
    case 'transcript.final': {
      const li = userMessage(m.turn)
      if (m.text && m.text.trim()) {
        setText(li, m.text)
      } else {
        li.remove()
        turnOf(m.turn).user = null
        if (ui.awaiting && ui.awaiting.turn === m.turn) ui.awaiting = null
      }
      break
    }
    case 'response.text.delta': {
      if (turnOf(m.turn).cut) break // in flight when the turn was cut; not kept
      const li = assistantMessage(m.turn)
      const p = li.querySelector('.text')
      const stick = isScrolledDown()
      p.textContent += m.delta
      if (stick) scrollDown()
      awaitTurn(m.turn)
      break
    }
    case 'response.audio.start':
      if (m.turn < ui.minAudioTurn || turnOf(m.turn).cut) break
      userMessage(m.turn, false)
      awaitTurn(m.turn)
      ui.audioTurn = m.turn
      if (engine.running) engine.startReply(m.turn, m.sample_rate || (client.session && client.session.output_audio.sample_rate))
      break
    case 'response.audio.done':
      if (ui.audioTurn === m.turn && engine.running) engine.endReply()
      ui.audioTurn = null
      break
    case 'response.done': {
      const li = assistantMessage(m.turn)
      if (m.text) setText(li, m.text)
      else li.classList.remove('streaming')
      if (!li.querySelector('.text').textContent) {
        li.remove()
        turnOf(m.turn).assistant = null
      }
      if (ui.awaiting && ui.awaiting.turn === m.turn) ui.awaiting = null
      break
    }
    case 'response.cancelled': {
      // speech.started and response.cancelled share the control lane in
      // either order: whichever stops the playback counts the barge-in.
      if (ui.audioTurn === m.turn || ui.playing === m.turn) {
        bargeIn()
        if (m.reason === 'barge_in') counters.bargeIns++
      }
      const t = turnOf(m.turn)
      t.cut = true
      // Only the kept text stays in the conversation (a resume's history
      // shows the same); a reply cut before any of it was spoken goes.
      if (m.text) {
        const li = assistantMessage(m.turn)
        setText(li, m.text, 'interrupted')
        setMeta(li, m.reason === 'barge_in' ? 'Interrupted' : m.reason === 'interrupt' ? 'Stopped' : 'Failed')
      } else if (t.assistant) {
        t.assistant.remove()
        t.assistant = null
      }
      if (ui.awaiting && ui.awaiting.turn === m.turn) ui.awaiting = null
      break
    }
    case 'turn.latency': {
      const t = turnOf(m.turn)
      t.latency = m
      if (!t.stoppedAt && !t.textSentAt && m.text_input) userMessage(m.turn, false)
      renderLatency(m.turn)
      break
    }
    case 'error':
      onServerError(m)
      break
  }
  renderState()
}

// awaitTurn notes that a reply for turn n is under way (typed turns learn
// their number here).
function awaitTurn(n) {
  if (!ui.awaiting || ui.awaiting.turn === null) ui.awaiting = { turn: n, since: performance.now() }
}

function onSessionStarted(m) {
  ui.everReady = true
  ui.fatal = ''
  hideBanner('connection')
  const resumedHistory = m.resumed && Array.isArray(m.history)
  if (resumedHistory) {
    redrawHistory(m.history)
    systemNote('Reconnected — conversation resumed', 'divider')
  } else if (client.stats.sessions > 1) {
    settleDangling('Connection lost')
    turns.clear()
    pendingTyped.length = 0
    if ($('conversation').childElementCount > 0) systemNote('New session — the previous one could not be resumed', 'divider')
  }
  ui.userSpeaking = false
  ui.awaiting = null
  ui.audioTurn = null
  // A resumed session's turn numbers go on where they stopped; a new
  // session's start again at 1.
  if (!m.resumed) {
    ui.minAudioTurn = 0
    ui.maxTurn = 0
  }
  if (ui.playing !== null) bargeIn()

  const rate = (m.input_audio && m.input_audio.sample_rate) || INPUT_RATE
  engine.setInputRate(rate)
  const out = (m.output_audio && m.output_audio.sample_rate) || 0
  $('rates').textContent = `${fmtRate(rate)} / ${m.text_only ? 'text only' : fmtRate(out)}`
  $('session-id').textContent = m.session_id ? m.session_id.slice(0, 12) : '—'
  $('session-id').title = m.session_id || ''
  const p = m.providers || {}
  for (const dd of $('providers').querySelectorAll('dd')) dd.textContent = p[dd.dataset.stage] || '—'
  if (m.limits && m.limits.max_text_bytes) $('text-input').maxLength = m.limits.max_text_bytes
  $('reconnects').textContent = client.stats.reconnects
}

function onServerError(m) {
  counters.errors++
  console.warn(`voicegate: ${m.code}: ${m.message}`)
  if (m.stage) {
    // A provider failed on this turn; the session goes on.
    const who = STAGE_NAMES[m.stage] || m.stage
    const what = {
      provider_timeout: 'did not answer in time',
      provider_rate_limited: 'is rate-limited right now',
      provider_unavailable: 'is unavailable',
      provider_rejected: 'rejected the request',
    }[m.code] || 'failed'
    const li = systemNote(`${who} ${what}, so this reply was lost. Try again.`, 'error')
    setMeta(li, m.message) // names the stage, the provider and the failure
    if (m.turn && ui.awaiting && ui.awaiting.turn === m.turn) ui.awaiting = null
    return
  }
  switch (m.code) {
    case 'resume_failed':
      return // onSessionStarted says so when the new session starts
    case 'text_too_long':
      return showBanner('The message is too long; shorten it and send again.', 'warn', 'text', 6000)
    case 'session_busy':
      return showBanner('The assistant is busy with the previous message; try again in a moment.', 'warn', 'text', 5000)
  }
  if (m.fatal) {
    const retry = {
      session_limit: 'The server is full.',
      shutting_down: 'The server is restarting.',
      heartbeat_timeout: 'The connection went quiet.',
      slow_consumer: 'The connection could not keep up.',
    }[m.code]
    if (retry) showBanner(`${retry} Reconnecting…`, 'warn', 'connection')
  } else {
    showBanner(`Server error: ${m.message}`, 'warn', 'server', 8000)
  }
}

function onPhase(p) {
  mark(`phase:${p.phase}`)
  ui.phase = p.phase
  if (p.phase !== 'ready') {
    // No socket, no session: whatever was playing or pending is over.
    ui.userSpeaking = false
    ui.awaiting = null
    ui.audioTurn = null
    if (ui.playing !== null) bargeIn()
  }
  if (p.phase === 'closed') {
    settleDangling('Connection closed')
    ui.fatal = p.reason || 'The session ended.'
    showBanner(`${ui.fatal} Reload the page to start again.`, 'error', 'connection')
  } else if (p.phase === 'reconnecting') {
    reconnectBanner(p)
  }
  renderState()
}

let countdown = 0
let lostBecause = ''
function reconnectBanner(p) {
  clearInterval(countdown)
  const where = new URL(client.url).host
  if (p.retryAt === undefined) {
    // connect() is dialling again after the wait.
    if (lostBecause) showBanner(`${lostBecause} Reconnecting…`, 'warn', 'connection')
    return
  }
  lostBecause = p.unreachable
    ? `Can't reach the voicegate server at ${where}.`
    : `Connection lost${p.reason ? ` (${p.reason})` : ''}.`
  const level = p.unreachable && p.attempt > 2 ? 'error' : 'warn'
  const tick = () => {
    if (ui.phase !== 'reconnecting') return clearInterval(countdown)
    const left = Math.max(0, p.retryAt - performance.now())
    const when = left > 400 ? `Retrying in ${Math.ceil(left / 1000)} s` : 'Retrying now'
    showBanner(`${lostBecause} ${when} (attempt ${p.attempt}).`, level, 'connection', 0, {
      label: 'Retry now',
      run: () => client.retryNow(),
    })
  }
  tick()
  countdown = setInterval(tick, 500)
  if (p.unreachable && p.attempt === 3) explainRefusal(where)
}

// explainRefusal tells "server down" from "server refuses the socket" (a
// wrong ?token= or a disallowed origin answer 401/403 before the upgrade,
// which a browser's WebSocket cannot see).
async function explainRefusal(where) {
  try {
    const r = await fetch(new URL('readyz', location.href), { cache: 'no-store' })
    if (r.ok && ui.phase === 'reconnecting') {
      showBanner(
        `The server at ${where} is up but refuses the connection: check the ?token= in the address (API key) or the allowed origins.`,
        'error',
        'connection',
      )
    }
  } catch {
    // Unreachable: the banner already says so.
  }
}

// ------------------------------------------------------------- playback

function bargeIn() {
  mark('flush', ui.playing ?? ui.audioTurn)
  engine.flush()
  ui.playing = null
  ui.audioTurn = null
}

function onAudio(buf) {
  counters.audioFramesReceived++
  if (ui.audioTurn === null || !engine.running) {
    counters.audioFramesDropped++
    return
  }
  engine.pushReply(buf)
}

function onFirstSound(turn, at) {
  mark('first-sound', turn)
  // A report that crossed a flush in flight is stale.
  if (engine.replyTurn !== turn) return
  ui.playing = turn
  const t = turnOf(turn)
  t.firstSoundAt = at
  renderLatency(turn)
  renderState()
}

function playbackOf(turn) {
  let p = playback.get(turn)
  if (!p) {
    p = { audible: 0, queuedMs: 0, drained: false }
    playback.set(turn, p)
    if (playback.size > 50) playback.delete(playback.keys().next().value)
  }
  return p
}

function onDrained(turn) {
  mark('drained', turn)
  playbackOf(turn).drained = true
  if (ui.playing === turn || ui.playing === null) ui.playing = null
  renderState()
}

function onPlaybackStats(s) {
  counters.playedSamples = s.played
  counters.nonZeroSamplesPlayed = s.nonZero
  counters.underruns = s.underruns
  counters.flushes = s.flushes
  counters.queuedMs = s.queuedMs
  counters.playbackReports++
  if (s.turn != null) {
    const p = playbackOf(s.turn)
    p.audible = s.turnNonZero
    p.queuedMs = s.queuedMs
  }
  const secs = s.played / engine.sampleRate
  $('played').textContent = `${secs.toFixed(1)} s${s.underruns ? ` · ${s.underruns} underrun${s.underruns > 1 ? 's' : ''}` : ''}`
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
function firstSoundMs(t) {
  if (!t.firstSoundAt) return null
  if (t.stoppedAt) {
    const endpoint = t.latency && typeof t.latency.endpoint_ms === 'number' ? t.latency.endpoint_ms : null
    if (endpoint === null) return null
    return t.firstSoundAt - t.stoppedAt + endpoint
  }
  if (t.textSentAt) return t.firstSoundAt - t.textSentAt
  return null
}

function renderLatency(n) {
  const t = turnOf(n)
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
  lastLatency = { turn: n, text_input: !!m.text_input, cancelled: !!m.cancelled, ...values }

  const max = Math.max(1, ...Object.values(values))
  let prev = 0
  for (const li of $('waterfall').children) {
    const v = values[li.dataset.key]
    const bar = li.querySelector('.wf-bar')
    const val = li.querySelector('.wf-val')
    if (typeof v !== 'number') {
      li.classList.add('absent')
      bar.style.setProperty('--from', 0)
      bar.style.setProperty('--to', 0)
      val.textContent = '—'
      continue
    }
    li.classList.remove('absent')
    const from = Math.min(prev, v)
    bar.style.setProperty('--from', from / max)
    bar.style.setProperty('--to', v / max)
    val.textContent = fmtMs(v)
    val.title = `+${fmtMs(v - from)} after the previous step`
    prev = Math.max(prev, v)
  }
  $('latency-turn').textContent = `· turn ${n}${m.text_input ? ' (typed)' : ''}${m.cancelled ? ' (cut)' : ''}`
  $('latency-note').textContent = m.text_input
    ? 'After your message arrived; the last row is measured in this page.'
    : 'After the end of your speech; the last row is measured in this page.'

  if (fs !== null) {
    const i = latencyHistory.findIndex((h) => h.turn === n)
    if (i >= 0) latencyHistory[i].ms = fs
    else latencyHistory.push({ turn: n, ms: fs })
    while (latencyHistory.length > 8) latencyHistory.shift()
    const ol = $('latency-history')
    ol.replaceChildren(
      ...latencyHistory.map((h) => {
        const li = document.createElement('li')
        li.textContent = fmtMs(h.ms)
        li.title = `Turn ${h.turn}: first sound after ${fmtMs(h.ms)}`
        return li
      }),
    )
  }
}

// --------------------------------------------------------------- banner

let bannerOwner = ''
let bannerTimer = 0
function showBanner(text, level, owner, autoHideMs = 0, action = null) {
  clearTimeout(bannerTimer)
  bannerOwner = owner
  const b = $('banner')
  b.dataset.level = level
  $('banner-text').textContent = text
  const btn = $('banner-action')
  btn.hidden = !action
  if (action) {
    btn.textContent = action.label
    btn.onclick = action.run
  }
  b.hidden = false
  if (autoHideMs) bannerTimer = setTimeout(() => hideBanner(owner), autoHideMs)
}

function hideBanner(owner) {
  if (owner && owner !== bannerOwner) return
  if (owner === 'connection') clearInterval(countdown)
  $('banner').hidden = true
  bannerOwner = ''
}

// ---------------------------------------------------------------- mic

let micFailure = null
async function startMic() {
  try {
    await engine.resume()
    const q = new URLSearchParams(location.search)
    const label = await engine.startMic(engine.inputRate, {
      echoCancellation: q.get('ec') !== '0',
      noiseSuppression: q.get('ns') !== '0',
      autoGainControl: q.get('agc') !== '0',
    })
    micFailure = null
    $('mic-info').textContent = label || 'on'
    $('mute').disabled = false
    if (bannerOwner === 'mic') hideBanner('mic')
  } catch (err) {
    micFailure = micProblem(err)
    $('mic-info').textContent = { denied: 'blocked', nodevice: 'none found', insecure: 'needs https' }[micFailure.kind] || 'unavailable'
    $('mute').disabled = true
    showBanner(micFailure.text, 'warn', 'mic', 0, micFailure.kind === 'insecure' ? null : { label: 'Retry', run: startMic })
  }
  renderState()
}

function setMuted(muted) {
  mark(muted ? 'mute' : 'unmute')
  ui.muted = muted
  engine.setMuted(muted)
  const b = $('mute')
  b.setAttribute('aria-pressed', String(muted))
  const label = muted ? 'Unmute the microphone' : 'Mute the microphone'
  $('mute-label').textContent = label
  b.title = label
  renderState()
}

// --------------------------------------------------------------- wiring

function sendText(e) {
  e.preventDefault()
  mark('input.text')
  const input = $('text-input')
  const text = input.value.trim()
  if (!text) return
  if (!client.send({ type: 'input.text', text })) {
    showBanner('Not connected yet — your message is kept; send it again in a moment.', 'warn', 'text', 5000)
    return
  }
  // The server cuts the reply in progress; do not wait for it to say so.
  if (ui.playing !== null || ui.audioTurn !== null) bargeIn()
  ui.minAudioTurn = ui.maxTurn + 1
  input.value = ''
  const el = addMessage('user', text, { classes: ['typed'] })
  pendingTyped.push({ el, sentAt: performance.now(), text })
  ui.awaiting = { turn: null, since: performance.now() }
  scrollDown()
  renderState()
}

function interrupt() {
  if (!client.send({ type: 'interrupt' })) return
  const n = ui.audioTurn ?? ui.playing ?? (ui.awaiting ? ui.awaiting.turn : null)
  if (n !== null) {
    turnOf(n).cut = true
    ui.minAudioTurn = Math.max(ui.minAudioTurn, n + 1)
  }
  bargeIn()
  ui.awaiting = null
  renderState()
}

function wsURL() {
  const u = new URL('ws', location.href)
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  // An API key given to the page (?token=…) is passed on: browsers cannot
  // set headers on a WebSocket.
  const token = new URLSearchParams(location.search).get('token')
  if (token) u.searchParams.set('token', token)
  return u.toString()
}

// exposeTestHook publishes window.voicegate: read-only diagnostics for the
// end-to-end test (e2e/browser_test.go) and for curious users in the
// console. Getters return copies; nothing here changes the session except
// dropSocket, which closes the WebSocket as a network failure would (the
// resume token is kept, so the page reconnects and resumes).
//
//   state           the indicator's state: connecting, listening,
//                   user-speaking, thinking, assistant-speaking,
//                   reconnecting or error
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
//   entered         how many times the indicator entered each state: a
//                   state can be shorter than a poll, a count cannot be missed
//   playback        the recent replies' playback by turn: {audible samples
//                   played, queuedMs, drained (played to the end)}
//   lastLatency     the last turn.latency as shown, with first_sound_ms
//   rttMs           the last heartbeat round trip
//   micError        why the microphone is off, or null
//   timeline        the last 200 events as "page-ms event turn" lines
//   messages        the conversation as shown: [{role, text, turn}]
//   dropSocket()    force-drop the WebSocket (resume is kept)
function exposeTestHook() {
  const hook = {
    get state() {
      return computeState()
    },
    get session() {
      const s = client.session
      return s
        ? {
            id: s.session_id,
            resumed: !!s.resumed,
            providers: { ...s.providers },
            inputRate: s.input_audio && s.input_audio.sample_rate,
            outputRate: s.output_audio && s.output_audio.sample_rate,
            contextRate: engine.sampleRate,
          }
        : null
    },
    get counters() {
      return { ...counters, flushesSent: engine.flushesSent, ...client.stats }
    },
    get entered() {
      return { ...entered }
    },
    get playback() {
      return Object.fromEntries([...playback].map(([turn, p]) => [turn, { ...p }]))
    },
    get lastLatency() {
      return lastLatency ? { ...lastLatency } : null
    },
    get rttMs() {
      return rttMs
    },
    get timeline() {
      return [...timeline]
    },
    get micError() {
      return micFailure ? micFailure.kind : null
    },
    get messages() {
      return [...$('conversation').querySelectorAll('.msg.user, .msg.assistant')].map((li) => ({
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

async function main() {
  engine = new AudioEngine({
    frame(buf) {
      client.sendAudio(buf)
      engine.recycle(buf)
    },
    first: onFirstSound,
    drained: onDrained,
    stats: onPlaybackStats,
    micEnded() {
      engine.stopMic()
      $('mic-info').textContent = 'stopped'
      showBanner('The microphone stopped (unplugged or turned off).', 'warn', 'mic', 0, { label: 'Retry', run: startMic })
      renderState()
    },
  })
  client = new VoiceClient({
    url: wsURL(),
    inputRate: INPUT_RATE,
    on: {
      phase: onPhase,
      message: onMessage,
      audio: onAudio,
      rtt(ms) {
        rttMs = ms
        $('rtt').textContent = fmtMs(ms, 1)
      },
    },
  })
  exposeTestHook()

  $('composer').addEventListener('submit', sendText)
  $('mute').addEventListener('click', () => setMuted(!ui.muted))
  $('stop').addEventListener('click', interrupt)
  $('banner-close').addEventListener('click', () => hideBanner())
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('stop').hidden) {
      e.preventDefault()
      interrupt()
    }
  })
  window.addEventListener('pagehide', () => client.close())
  // A page restored from the back/forward cache has a closed session.
  window.addEventListener('pageshow', (e) => e.persisted && location.reload())
  setInterval(() => {
    // A turn that never got a reply (nothing recognised, a lost event)
    // stops showing "thinking" after a while.
    if (ui.awaiting && performance.now() - ui.awaiting.since > AWAIT_TIMEOUT_MS) {
      ui.awaiting = null
      renderState()
    }
  }, 1000)

  client.connect()
  renderState()
  startScope($('scope'), () => ({ you: ui.muted ? null : engine.micAnalyser, bot: engine.outAnalyser }))

  try {
    await engine.init(16000)
  } catch (err) {
    showBanner(`Audio is not available in this browser (${err.message}). You can still type.`, 'error', 'mic')
    return
  }
  if (engine.running) {
    await startMic()
  } else {
    // Autoplay policy: audio may only start after a user gesture.
    const start = $('start')
    start.hidden = false
    let started = false
    const go = async () => {
      if (started) return
      started = true
      start.hidden = true
      document.removeEventListener('pointerdown', go, true)
      document.removeEventListener('keydown', go, true)
      await startMic()
    }
    start.addEventListener('click', go)
    document.addEventListener('pointerdown', go, true)
    document.addEventListener('keydown', go, true)
    $('mic-info').textContent = 'waiting for a click'
  }
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener('devicechange', () => {
      if (micFailure && (micFailure.kind === 'nodevice' || micFailure.kind === 'busy')) startMic()
    })
  }
}

function fmtMs(ms, digits = 0) {
  return `${ms.toFixed(ms < 10 && digits ? digits : 0)} ms`
}

function fmtRate(hz) {
  return hz ? `${(hz / 1000).toFixed(hz % 1000 ? 2 : 0)} kHz` : '—'
}

main().catch((err) => {
  showBanner(`The page failed to start: ${err.message}`, 'error', 'page')
  console.error(err)
})
