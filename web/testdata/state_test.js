// Checks of the page's reducer, run by state_test.go after static/state.js
// (node --input-type=module, the two files as one module). Every state
// handed to reduce is frozen first, so a reducer that changes its input
// throws. A failed check throws; the last line printed counts the checks.

let checks = 0
let clock = 1000

function check(ok, what, got) {
  checks++
  if (!ok) throw new Error(`${what}${got === undefined ? '' : `: got ${JSON.stringify(got)}`}`)
}

function freeze(v) {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const k of Object.keys(v)) freeze(v[k])
  }
  return v
}

// run applies events in order to s and returns the last state and every
// effect type listed along the way.
function run(s, ...events) {
  const effects = []
  for (const ev of events) {
    clock += 10
    s = reduce(freeze(s), ev, clock)
    effects.push(...s.effects.map((e) => e.type))
  }
  return { s, effects }
}

const server = (message) => ({ type: 'server', message })
const started = (extra = {}) =>
  server({ type: 'session.started', session_id: 'abc', input_audio: { sample_rate: 16000 }, output_audio: { sample_rate: 24000 }, ...extra })

// A spoken turn whose reply is playing: speech, transcript, reply, audio.
function talking(n) {
  return [
    server({ type: 'speech.started', turn: n }),
    server({ type: 'transcript.partial', turn: n, text: 'hel' }),
    server({ type: 'speech.stopped', turn: n }),
    server({ type: 'transcript.final', turn: n, text: 'hello' }),
    server({ type: 'response.text.delta', turn: n, delta: 'You said: ' }),
    server({ type: 'response.audio.start', turn: n, sample_rate: 24000 }),
    { type: 'first-sound', turn: n, time: clock },
  ]
}

const ready = run(initialState({ host: 'h' }), { type: 'phase', phase: 'connecting' }, { type: 'phase', phase: 'ready' }, started()).s
check(indicator(ready) === 'listening' && ready.shown === 'listening', 'listening once the session started', ready.shown)

{
  const { s, effects } = run(ready, ...talking(1))
  check(s.shown === 'assistant-speaking', 'speaking while the reply plays', s.shown)
  check(effects.includes('start-reply'), 'the reply is started', effects)
  const msgs = s.messages.map((m) => [m.role, m.text, m.turn])
  check(JSON.stringify(msgs) === JSON.stringify([['user', 'hello', 1], ['assistant', 'You said: ', 1]]), 'the turn as shown', msgs)
  check(s.entered['user-speaking'] === 1 && s.entered.thinking === 1 && s.entered['assistant-speaking'] === 1, 'entered counts each state', s.entered)
}

// A barge-in is counted once, whichever of speech.started and
// response.cancelled comes first (they share the control lane).
for (const order of [
  ['speech.started', 'response.cancelled'],
  ['response.cancelled', 'speech.started'],
]) {
  const playing = run(ready, ...talking(1)).s
  const msg = {
    'speech.started': server({ type: 'speech.started', turn: 2 }),
    'response.cancelled': server({ type: 'response.cancelled', turn: 1, reason: 'barge_in', text: 'You said:' }),
  }
  const { s, effects } = run(playing, ...order.map((k) => msg[k]))
  check(s.counters.bargeIns === 1, `one barge-in when ${order[0]} comes first`, s.counters.bargeIns)
  check(effects.filter((e) => e === 'flush').length === 1, `one flush when ${order[0]} comes first`, effects)
  check(s.shown === 'user-speaking', `the user is speaking when ${order[0]} comes first`, s.shown)
  const cut = s.messages.find((m) => m.role === 'assistant')
  check(cut.meta === 'Interrupted' && cut.classes.includes('interrupted'), 'the cut reply is marked', cut)
}

// A cancel the user asked for is not a barge-in.
{
  const playing = run(ready, ...talking(1)).s
  const { s } = run(playing, { type: 'interrupt' }, server({ type: 'response.cancelled', turn: 1, reason: 'interrupt', text: 'You said:' }))
  check(s.counters.bargeIns === 0 && s.shown === 'listening', 'an interrupt is not a barge-in', s.counters)
}

// A typed message learns its turn from the first event of its reply.
{
  const { s } = run(
    ready,
    { type: 'text', text: 'hi there', sent: true },
    server({ type: 'response.text.delta', turn: 1, delta: 'You said: hi there.' }),
    server({ type: 'response.done', turn: 1, text: 'You said: hi there.' }),
  )
  const msgs = s.messages.map((m) => [m.role, m.turn])
  check(JSON.stringify(msgs) === JSON.stringify([['user', 1], ['assistant', 1]]), 'the typed message gets its turn', msgs)
  check(s.pendingTyped.length === 0 && s.shown === 'listening', 'and nothing is left waiting', s)
}

// A resumed session's turn numbers go on; a new session's start at 1.
{
  const before = run(ready, ...talking(1), server({ type: 'response.done', turn: 1, text: 'You said: hello.' })).s
  const history = [
    { role: 'user', text: 'hello' },
    { role: 'assistant', text: 'You said: hello.' },
  ]
  const resumed = run(before, { type: 'phase', phase: 'reconnecting', attempt: 1, retryAt: clock + 100 }, { type: 'phase', phase: 'ready' }, started({ resumed: true, history })).s
  check(resumed.maxTurn === 1, 'a resume keeps the turn numbers', resumed.maxTurn)
  const shown = resumed.messages.map((m) => [m.role, m.turn])
  check(JSON.stringify(shown) === JSON.stringify([['user', null], ['assistant', null], ['system', null]]), 'the history is redrawn without turn numbers', shown)
  const typed = run(resumed, { type: 'text', text: 'more', sent: true }).s
  check(typed.minAudioTurn === 2, 'typed after a resume, audio of turns from 2 is played', typed.minAudioTurn)

  const fresh = run(before, { type: 'phase', phase: 'reconnecting', attempt: 1, retryAt: clock + 100 }, { type: 'phase', phase: 'ready' }, started()).s
  check(fresh.maxTurn === 0 && Object.keys(fresh.playback).length === 0, 'a new session starts its turns again', fresh)
  check(fresh.messages.at(-1).classes.includes('divider'), 'and says so', fresh.messages.at(-1))
}

// The reconnect banner counts down on ticks and goes with the new session.
{
  let { s } = run(ready, { type: 'phase', phase: 'reconnecting', attempt: 1, retryAt: clock + 2500, reason: 'gone' })
  check(s.banner && s.banner.owner === 'connection' && /Retrying in 3 s/.test(s.banner.text), 'a countdown', s.banner)
  clock += 1500
  s = run(s, { type: 'tick' }).s
  check(/Retrying in 1 s/.test(s.banner.text), 'that ticks', s.banner)
  s = run(s, { type: 'phase', phase: 'ready' }, started({ resumed: true, history: [] })).s
  check(s.banner === null && s.retry === null, 'and is gone once resumed', s.banner)
}

// Playback reports are kept per turn.
{
  const stats = { type: 'playback', played: 100, nonZero: 90, underruns: 0, flushes: 0, queuedMs: 20, turn: 1, turnNonZero: 90 }
  const done = server({ type: 'response.done', turn: 1, text: 'You said: hello.' })
  const { s } = run(ready, ...talking(1), stats, done, { type: 'drained', turn: 1 })
  check(s.playback[1].audible === 90 && s.playback[1].drained && s.counters.playbackReports === 1, 'a reply as played', s.playback)
  check(s.shown === 'listening', 'listening once it drained', s.shown)
}

// A false interruption pauses the playback and resumes it, queue kept:
// no flush, no barge-in, no user message.
{
  const playing = run(ready, ...talking(1)).s
  const { s, effects } = run(playing, server({ type: 'response.paused', turn: 1 }), server({ type: 'response.resumed', turn: 1 }))
  check(JSON.stringify(effects) === JSON.stringify(['pause-reply', 'resume-reply']), 'paused, then resumed', effects)
  check(s.paused === null && s.counters.bargeIns === 0 && s.messages.length === 2, 'nothing else changes', s.counters)
  // A pause that proves a barge-in ends in a flush, the pause lifted.
  const cut = run(
    playing,
    server({ type: 'response.paused', turn: 1 }),
    server({ type: 'speech.started', turn: 2 }),
    server({ type: 'response.cancelled', turn: 1, reason: 'barge_in', text: 'You said:' }),
  )
  check(cut.effects.includes('flush') && cut.effects.includes('resume-reply') && cut.s.paused === null, 'a barge-in after the pause flushes', cut.effects)
  check(cut.s.counters.bargeIns === 1, 'and counts once', cut.s.counters)
}

console.log(`state_test.js: ${checks} checks passed`)
