// voicegate's page: wires the protocol client (client.js), the audio engine
// (audio.js) and the views to one state. Every event (a server message, a
// report from the playback worklet, a click) goes through dispatch: the
// pure reducer in state.js makes the next state, dispatch carries out the
// effects it lists (the audio engine, the console, a probe), and render
// draws the state.
//
//   event ─► reduce(state, event, now) ─► effects ─► render(state)
//
// The views draw their part of the page and skip what did not change:
// conversation.js, waterfall.js (latency), banner.js, mic.js (which also
// starts the microphone); the indicator and the connection card are drawn
// here. hook.js publishes window.voicegate for the end-to-end test.
//
// Query parameters: token=<API key> is passed on to the WebSocket (browsers
// cannot set its headers); ec=0, ns=0, agc=0: see mic.js.

import { VoiceClient } from './client.js'
import { AudioEngine } from './audio.js'
import { startScope } from './scope.js'
import { INPUT_RATE, canStop, initialState, reduce } from './state.js'
import { conversationView } from './conversation.js'
import { waterfallView } from './waterfall.js'
import { bannerView } from './banner.js'
import { micControl } from './mic.js'
import { exposeTestHook } from './hook.js'
import { $, setText } from './dom.js'
import { fmtMs, fmtRate } from './format.js'

const PLAYBACK_RATE = 16000 // the worklet's until a reply says otherwise
const TICK_MS = 500 // clock for the reconnect countdown, banners that hide, the "thinking" timeout

const STATE_LABELS = {
  connecting: 'Connecting…',
  listening: 'Listening',
  'user-speaking': 'You are speaking',
  thinking: 'Thinking…',
  'assistant-speaking': 'Speaking',
  reconnecting: 'Reconnecting…',
  error: 'Error',
}

function main() {
  const url = wsURL()
  let state = initialState({ host: new URL(url).host })
  // Reply audio frames are counted here, not passed through the reducer.
  const frames = { received: 0, dropped: 0 }

  const engine = new AudioEngine({
    frame(buf) {
      client.sendAudio(buf)
      engine.recycle(buf)
    },
    first: (turn, time) => dispatch({ type: 'first-sound', turn, time }),
    drained: (turn) => dispatch({ type: 'drained', turn }),
    stats: (m) => dispatch({ ...m, type: 'playback' }),
    micEnded: () => mic.ended(),
  })
  const client = new VoiceClient({
    url,
    inputRate: INPUT_RATE,
    on: {
      phase: (p) => dispatch({ ...p, type: 'phase' }),
      message: (message) => dispatch({ type: 'server', message }),
      audio: onAudio,
      rtt: (ms) => dispatch({ type: 'rtt', ms }),
    },
  })
  const mic = micControl({
    engine,
    dispatch,
    getState: () => state,
    els: { mute: $('mute'), muteLabel: $('mute-label'), info: $('mic-info'), start: $('start') },
  })
  const drawConversation = conversationView($('conversation'), $('empty'))
  const drawWaterfall = waterfallView({
    rows: $('waterfall'),
    turn: $('latency-turn'),
    note: $('latency-note'),
    history: $('latency-history'),
  })
  const drawBanner = bannerView(
    { box: $('banner'), text: $('banner-text'), button: $('banner-action'), dismiss: $('banner-close') },
    { mic: () => mic.start(), reconnect: () => client.retryNow() },
    () => dispatch({ type: 'banner-close' }),
  )
  let drawnSession = null

  function dispatch(ev) {
    state = reduce(state, ev, performance.now())
    for (const e of state.effects) perform(e)
    render(state)
  }

  function perform(e) {
    switch (e.type) {
      case 'flush':
        return engine.flush()
      case 'start-reply':
        if (engine.running) engine.startReply(e.turn, e.rate)
        return
      case 'end-reply':
        if (engine.running) engine.endReply()
        return
      case 'pause-reply':
        return engine.pauseReply()
      case 'resume-reply':
        return engine.resumeReply()
      case 'mute':
        return engine.setMuted(e.muted)
      case 'input-rate':
        return engine.setInputRate(e.rate)
      case 'warn':
        return console.warn(e.text)
      case 'probe':
        return probe()
    }
  }

  // probe tells "server down" from "server refuses the socket": a wrong
  // ?token= or a disallowed origin is answered 401/403 before the upgrade,
  // which a browser's WebSocket cannot see.
  async function probe() {
    try {
      const r = await fetch(new URL('readyz', location.href), { cache: 'no-store' })
      if (r.ok) dispatch({ type: 'refused' })
    } catch {
      // Unreachable: the banner already says so.
    }
  }

  function onAudio(buf) {
    frames.received++
    if (state.audioTurn === null || !engine.running) {
      frames.dropped++
      return
    }
    engine.pushReply(buf)
  }

  function interrupt() {
    if (client.send({ type: 'interrupt' })) dispatch({ type: 'interrupt' })
  }

  function render(s) {
    drawIndicator(s)
    drawConversation(s.messages)
    drawWaterfall(s.lastLatency, s.latencyHistory)
    drawBanner(s.banner)
    mic.render(s)
    drawConnection(s)
  }

  function drawIndicator(s) {
    const el = $('state')
    if (el.dataset.state !== s.shown) {
      el.dataset.state = s.shown
      document.body.dataset.state = s.shown
    }
    let label = STATE_LABELS[s.shown]
    if (s.shown === 'listening' && s.muted) label = 'Muted'
    if (s.shown === 'listening' && s.mic.status !== 'on') label = s.mic.problem ? 'Ready — type a message' : 'Ready'
    setText($('state-label'), label)
    const stop = $('stop')
    if (stop.hidden !== !canStop(s)) stop.hidden = !canStop(s)
    const send = $('send')
    if (send.disabled !== (s.phase !== 'ready')) send.disabled = s.phase !== 'ready'
  }

  function drawConnection(s) {
    setText($('rtt'), s.rttMs === null ? '—' : fmtMs(s.rttMs, 1))
    setText($('reconnects'), String(Math.max(0, s.sessions - 1)))
    const c = s.counters
    if (c.playbackReports > 0 && s.contextRate) {
      const underruns = c.underruns ? ` · ${c.underruns} underrun${c.underruns > 1 ? 's' : ''}` : ''
      setText($('played'), `${(c.playedSamples / s.contextRate).toFixed(1)} s${underruns}`)
    }
    if (s.session === drawnSession) return
    drawnSession = s.session
    const m = s.session
    const rate = (m.input_audio && m.input_audio.sample_rate) || INPUT_RATE
    const out = (m.output_audio && m.output_audio.sample_rate) || 0
    setText($('rates'), `${fmtRate(rate)} / ${m.text_only ? 'text only' : fmtRate(out)}`)
    setText($('session-id'), m.session_id ? m.session_id.slice(0, 12) : '—')
    $('session-id').title = m.session_id || ''
    const p = m.providers || {}
    for (const dd of $('providers').querySelectorAll('dd')) setText(dd, p[dd.dataset.stage] || '—')
    if (m.limits && m.limits.max_text_bytes) $('text-input').maxLength = m.limits.max_text_bytes
  }

  exposeTestHook({ getState: () => state, client, engine, frames, log: $('conversation') })

  $('composer').addEventListener('submit', (e) => {
    e.preventDefault()
    const input = $('text-input')
    const text = input.value.trim()
    if (!text) return
    const sent = client.send({ type: 'input.text', text })
    if (sent) input.value = ''
    dispatch({ type: 'text', text, sent })
  })
  $('stop').addEventListener('click', interrupt)
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && canStop(state)) {
      e.preventDefault()
      interrupt()
    }
  })
  window.addEventListener('pagehide', () => client.close())
  // A page restored from the back/forward cache has a closed session.
  window.addEventListener('pageshow', (e) => e.persisted && location.reload())
  setInterval(() => dispatch({ type: 'tick' }), TICK_MS)

  async function start() {
    client.connect()
    render(state)
    startScope($('scope'), () => ({ you: state.muted ? null : engine.micAnalyser, bot: engine.outAnalyser }))
    try {
      await engine.init(PLAYBACK_RATE)
    } catch (err) {
      dispatch({ type: 'audio-failed', message: err.message })
      return
    }
    dispatch({ type: 'audio', rate: engine.sampleRate })
    await mic.begin()
  }
  start().catch((err) => {
    dispatch({ type: 'failed', message: err.message })
    console.error(err)
  })
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

main()
