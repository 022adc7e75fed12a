// The page's audio: one AudioContext at the device's rate holding the
// microphone capture path and the reply playback path, both AudioWorklets
// (worklet.js), plus an AnalyserNode on each for the waveforms.
//
//   mic ─► MediaStreamSource ─┬─► vg-capture ─► (20 ms PCM16 frames to onFrame)
//                             └─► micAnalyser
//   reply PCM16 ─► vg-playback ─► outAnalyser ─► speakers

export class AudioEngine {
  // on: {frame(buf), first(turn, perfTime), drained(turn), stats(s), micEnded()}
  constructor(on) {
    this.on = on
    this.ctx = null
    this.stream = null
    this.capture = null
    this.playback = null
    this.micAnalyser = null
    this.outAnalyser = null
    this.muted = false
    this.inputRate = 16000
    this.replyTurn = null
    this.flushesSent = 0 // flushes posted to the playback worklet (its stats count those it applied)
  }

  // init builds the context and the playback path. Browsers may start the
  // context suspended until the user interacts with the page; see running.
  async init(outputRate) {
    const AC = window.AudioContext || window.webkitAudioContext
    if (!AC || !window.AudioWorkletNode) throw new Error('this browser has no AudioWorklet support')
    this.ctx = new AC({ latencyHint: 'interactive' })
    await this.ctx.audioWorklet.addModule('worklet.js')
    this.playback = new AudioWorkletNode(this.ctx, 'vg-playback', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { rate: outputRate },
    })
    this.outAnalyser = this.ctx.createAnalyser()
    this.outAnalyser.fftSize = 1024
    this.playback.connect(this.outAnalyser)
    this.outAnalyser.connect(this.ctx.destination)
    this.playback.port.onmessage = (e) => this.onPlayback(e.data)
  }

  get running() {
    return !!this.ctx && this.ctx.state === 'running'
  }

  async resume() {
    if (this.ctx && this.ctx.state !== 'running') await this.ctx.resume()
  }

  // startMic asks for the microphone (the browser may prompt) and starts
  // sending frames at rate Hz. It throws the getUserMedia error, which
  // micProblem explains.
  // processing selects the browser's echoCancellation, noiseSuppression and
  // autoGainControl (all on unless set false).
  async startMic(rate, processing = {}) {
    this.inputRate = rate
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const err = new Error('getUserMedia is not available')
      err.name = window.isSecureContext ? 'NotSupportedError' : 'InsecureContextError'
      throw err
    }
    this.stopMic()
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: processing.echoCancellation !== false,
        noiseSuppression: processing.noiseSuppression !== false,
        autoGainControl: processing.autoGainControl !== false,
        channelCount: 1,
      },
    })
    this.stream = stream
    const track = stream.getAudioTracks()[0]
    track.enabled = !this.muted
    track.addEventListener('ended', () => this.on.micEnded())
    const source = this.ctx.createMediaStreamSource(stream)
    this.capture = new AudioWorkletNode(this.ctx, 'vg-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
      processorOptions: { rate, frameMs: 20 },
    })
    this.capture.port.onmessage = (e) => this.on.frame(e.data)
    this.micAnalyser = this.ctx.createAnalyser()
    this.micAnalyser.fftSize = 1024
    source.connect(this.micAnalyser)
    source.connect(this.capture)
    // The capture node outputs silence; connecting it keeps it rendered.
    this.capture.connect(this.ctx.destination)
    this.source = source
    return track.label
  }

  stopMic() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop()
    if (this.source) this.source.disconnect()
    if (this.capture) this.capture.disconnect()
    this.stream = this.source = this.capture = this.micAnalyser = null
  }

  get hasMic() {
    return !!this.capture
  }

  setInputRate(rate) {
    this.inputRate = rate
    if (this.capture) this.capture.port.postMessage({ type: 'config', rate, frameMs: 20 })
  }

  // recycle hands a sent frame's buffer back to the capture worklet.
  recycle(buf) {
    if (this.capture) this.capture.port.postMessage({ type: 'recycle', buf }, [buf])
  }

  // setMuted disables the track: the browser then delivers silence, which
  // still lets the server's endpointing close a turn the user was in.
  setMuted(muted) {
    this.muted = muted
    if (this.stream) for (const t of this.stream.getAudioTracks()) t.enabled = !muted
  }

  // Reply playback. The page calls startReply on response.audio.start,
  // pushReply for each binary frame, endReply on response.audio.done,
  // pauseReply and resumeReply on response.paused and .resumed, and flush
  // on barge-in.
  startReply(turn, rate) {
    this.replyTurn = turn
    this.playback.port.postMessage({ type: 'start', turn, rate })
  }

  pushReply(buf) {
    this.playback.port.postMessage({ type: 'pcm', buf }, [buf])
  }

  endReply() {
    this.playback.port.postMessage({ type: 'end' })
  }

  // pauseReply holds the playback where it is, keeping what is queued and
  // what still arrives (response.paused); resumeReply plays on.
  pauseReply() {
    if (this.playback) this.playback.port.postMessage({ type: 'pause' })
  }

  resumeReply() {
    if (this.playback) this.playback.port.postMessage({ type: 'resume' })
  }

  flush() {
    this.replyTurn = null
    if (!this.playback) return
    this.playback.port.postMessage({ type: 'flush' })
    this.flushesSent++
  }

  onPlayback(m) {
    if (m.type === 'first') this.on.first(m.turn, this.perfTimeOf(m.time))
    else if (m.type === 'drained') this.on.drained(m.turn)
    else if (m.type === 'stats') this.on.stats(m)
  }

  // perfTimeOf converts a context time (seconds) to the performance.now()
  // moment its sample leaves the speakers, using the output timestamp the
  // browser reports (which includes the output device's latency).
  perfTimeOf(t) {
    const ts = this.ctx.getOutputTimestamp ? this.ctx.getOutputTimestamp() : null
    if (ts && ts.performanceTime > 0) return ts.performanceTime + (t - ts.contextTime) * 1000
    const lat = (this.ctx.baseLatency || 0) + (this.ctx.outputLatency || 0)
    return performance.now() + (t - this.ctx.currentTime + lat) * 1000
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : 0
  }
}

// micProblem turns a getUserMedia failure into {kind, text} for the user.
export function micProblem(err) {
  switch (err && err.name) {
    case 'InsecureContextError':
      return {
        kind: 'insecure',
        text: 'The microphone needs a secure page: open voicegate on https:// or on localhost. You can still type.',
      }
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return {
        kind: 'denied',
        text: 'Microphone access was denied. Allow it in the site settings (the icon next to the address), then press Retry. You can still type.',
      }
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return { kind: 'nodevice', text: 'No microphone was found. Connect one and press Retry, or type below.' }
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return {
        kind: 'busy',
        text: 'The microphone could not be started; another application may be using it. Press Retry, or type below.',
      }
    default:
      return { kind: 'other', text: `The microphone could not be started (${(err && err.message) || err}). You can still type.` }
  }
}
