// The protocol client: one WebSocket at a time to the gateway, speaking the
// native protocol (gateway/protocol, docs/protocol.md). It owns reconnection
// (exponential backoff with full jitter), session resume (the resume token
// from session.started) and the app-level heartbeat (ping → pong, whose
// client_time echo gives the round-trip time; browsers cannot send
// WebSocket pings).
//
// The client knows nothing of the page: it reports through the callbacks
// given to its constructor.

const PROTOCOL_VERSION = 1
const BACKOFF_BASE_MS = 500
const BACKOFF_CAP_MS = 15000
const PING_EVERY_MS = 5000
const DEAD_AFTER_MS = 3 * PING_EVERY_MS + 2000 // a ping unanswered this long: the socket is dead
const MAX_BUFFERED_BYTES = 64 * 1024 // ~2 s of 16 kHz audio; beyond it frames are dropped

// Close codes the page uses: 1000 when the user leaves (the session may end),
// DROP_CODE for a simulated network drop (the session is resumed).
export const DROP_CODE = 4000

export class VoiceClient {
  // opts: {url, inputRate, ticket, on: {phase(p), message(msg), audio(buf), rtt(ms)}}
  // phase(p) gets {phase: 'connecting'|'ready'|'reconnecting'|'closed',
  //   attempt, delayMs, reason, unreachable}
  // ticket: a single-use ticket from POST /v1/tickets (default: ?ticket= in
  //   the page's address), the credential of the first connection.
  constructor(opts) {
    this.url = opts.url
    this.ticket = opts.ticket ?? new URLSearchParams(globalThis.location?.search ?? '').get('ticket') ?? ''
    this.inputRate = opts.inputRate
    this.on = opts.on
    this.ws = null
    this.ready = false
    this.session = null // the last session.started
    this.resumeToken = ''
    this.resumeWindowMs = 0
    this.droppedAt = 0
    this.attempt = 0
    this.retryTimer = 0
    this.pingTimer = 0
    this.pingSeq = 0
    this.unanswered = 0 // when the oldest ping without a pong was sent, or 0
    this.final = false
    this.lastError = null
    this.stats = { connects: 0, reconnects: 0, sessions: 0, resumes: 0, pongs: 0, framesSent: 0, framesDropped: 0 }
  }

  connect() {
    clearTimeout(this.retryTimer)
    this.retryTimer = 0
    if (this.final) return
    let ws
    try {
      ws = new WebSocket(this.connectURL())
    } catch (err) {
      this.closed({ code: 1006, reason: String(err) }, false)
      return
    }
    ws.binaryType = 'arraybuffer'
    this.ws = ws
    this.lastError = null
    let opened = false
    this.on.phase({ phase: this.stats.sessions ? 'reconnecting' : 'connecting', attempt: this.attempt })
    ws.onopen = () => {
      opened = true
      this.stats.connects++
      const start = { type: 'session.start', version: PROTOCOL_VERSION, input_audio: { sample_rate: this.inputRate } }
      if (this.resumable) start.resume_token = this.resumeToken
      ws.send(JSON.stringify(start))
    }
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') {
        this.on.audio(e.data)
        return
      }
      let msg
      try {
        msg = JSON.parse(e.data)
      } catch {
        console.warn('voicegate: ignoring a text frame that is not JSON')
        return
      }
      this.handle(msg)
    }
    ws.onclose = (e) => {
      if (this.ws !== ws) return
      this.closed(e, opened)
    }
    // A failed socket always also fires close, which does the work.
    ws.onerror = () => {}
  }

  // resumable reports whether the next connection should resume the
  // session: there is a token, and the session has not outlived its window.
  get resumable() {
    return !!this.resumeToken && (!this.droppedAt || performance.now() - this.droppedAt < this.resumeWindowMs)
  }

  // connectURL is the WebSocket URL of the next attempt, with its
  // credential (docs/protocol.md#connecting). A ticket is single-use: it
  // opens the first session, and is kept until then, as a failed attempt may
  // not have spent it. After that the page has no key, so a reconnect that
  // resumes presents the resume token on the upgrade (?resume=), which
  // allows resuming that session and nothing else. A URL that already
  // carries a key (?token=) needs neither.
  connectURL() {
    const u = new URL(this.url, globalThis.location?.href)
    if (u.searchParams.has('token')) return u.href
    if (this.ticket) u.searchParams.set('ticket', this.ticket)
    else if (this.resumable) u.searchParams.set('resume', this.resumeToken)
    return u.href
  }

  handle(msg) {
    switch (msg.type) {
      case 'session.started':
        this.ready = true
        this.ticket = '' // spent
        this.session = msg
        this.resumeToken = msg.resume_token || ''
        this.resumeWindowMs = msg.resume_window_ms || 0
        this.droppedAt = 0
        if (this.stats.sessions > 0) this.stats.reconnects++
        this.stats.sessions++
        if (msg.resumed) this.stats.resumes++
        this.attempt = 0
        this.startHeartbeat()
        this.on.phase({ phase: 'ready', resumed: !!msg.resumed })
        break
      case 'pong':
        this.unanswered = 0
        this.stats.pongs++
        if (typeof msg.client_time === 'number' && msg.client_time > 0) {
          this.on.rtt(performance.now() - msg.client_time)
        }
        return // not interesting to the page otherwise
      case 'error':
        if (msg.fatal) this.lastError = msg
        if (msg.code === 'resume_failed') this.resumeToken = ''
        break
    }
    this.on.message(msg)
  }

  closed(e, opened) {
    this.ws = null
    this.stopHeartbeat()
    const wasReady = this.ready
    this.ready = false
    if (wasReady) this.droppedAt = performance.now()
    if (this.final) return
    // The gateway says whether reconnecting after a fatal error can help
    // (retryable in docs/protocol.md#errors); a close without a fatal error
    // event, such as a network drop, is always retried.
    const err = this.lastError
    if (err && !err.retryable) {
      this.final = true
      this.on.phase({ phase: 'closed', reason: err.message, code: err.code })
      return
    }
    this.attempt++
    // Full jitter: a uniformly random wait up to the exponential bound, so
    // that clients dropped together do not come back together.
    const bound = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (this.attempt - 1))
    const delayMs = Math.random() * bound
    this.retryTimer = setTimeout(() => this.connect(), delayMs)
    this.on.phase({
      phase: 'reconnecting',
      attempt: this.attempt,
      delayMs,
      retryAt: performance.now() + delayMs,
      unreachable: !opened,
      code: e.code,
      reason: err ? err.message : e.reason,
    })
  }

  // retryNow skips the rest of the backoff wait.
  retryNow() {
    if (this.retryTimer) this.connect()
  }

  // open reports whether the session is running on an open socket (a
  // closing socket throws nothing on send but logs an error).
  get open() {
    return this.ready && !!this.ws && this.ws.readyState === WebSocket.OPEN
  }

  send(msg) {
    if (!this.open) return false
    this.ws.send(JSON.stringify(msg))
    return true
  }

  // sendAudio sends one PCM16LE frame. The WebSocket copies it, so the
  // caller may reuse buf when this returns. A frame is dropped rather than
  // queued when the session is not running or the socket is backed up:
  // late microphone audio is worse than missing audio.
  sendAudio(buf) {
    if (!this.open || this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      if (this.ready) this.stats.framesDropped++
      return false
    }
    this.ws.send(buf)
    this.stats.framesSent++
    return true
  }

  startHeartbeat() {
    this.stopHeartbeat()
    this.unanswered = 0
    // Timers of a background tab may fire only once a minute, so the test
    // is on the age of an unanswered ping, not on the time since a pong.
    const ping = () => {
      if (!this.ws) return
      if (this.unanswered && performance.now() - this.unanswered > DEAD_AFTER_MS) {
        // A silently dead connection (sleeping laptop, lost Wi-Fi) may take
        // minutes to report close: abandon it and reconnect now.
        const ws = this.ws
        ws.onclose = ws.onmessage = null
        ws.close(DROP_CODE, 'heartbeat lost')
        this.closed({ code: 1006, reason: 'no answer to heartbeat' }, true)
        return
      }
      if (this.send({ type: 'ping', id: String(++this.pingSeq), client_time: performance.now() }) && !this.unanswered) {
        this.unanswered = performance.now()
      }
    }
    ping()
    this.pingTimer = setInterval(ping, PING_EVERY_MS)
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer)
    this.pingTimer = 0
  }

  // drop closes the socket as a network failure would look to the session:
  // the resume token is kept and the client reconnects and resumes.
  drop() {
    if (this.ws) this.ws.close(DROP_CODE, 'simulated drop')
  }

  // close ends the session for good (the user leaves the page).
  close() {
    this.final = true
    clearTimeout(this.retryTimer)
    this.stopHeartbeat()
    if (this.ws) this.ws.close(1000, 'bye')
    this.ws = null
  }
}
