// AudioWorklet processors of the voicegate page. They run on the audio
// rendering thread: nothing here allocates in the steady state, and all
// talk with the page goes through each node's MessagePort.
//
//   vg-capture   microphone → anti-aliased resampling to the session's
//                input rate → PCM16LE frames of 20 ms posted to the page
//   vg-playback  PCM16 reply audio at the server's output rate → resampled
//                to the context rate → a jitter buffer → the speakers;
//                flushes within one render quantum on barge-in and counts
//                the non-zero samples it actually outputs

// Resampler converts a stream of float samples between two rates with a
// Kaiser-windowed sinc low-pass: the cutoff sits below the lower of the two
// Nyquist frequencies, so downsampling does not alias (48 kHz → 16 kHz keeps
// 0–6.8 kHz and attenuates everything above 8 kHz by ~80 dB) and upsampling
// does not image. The kernel is tabulated at KERNEL_RES points per input
// sample and interpolated linearly, which works for any rate ratio
// (44.1 kHz → 16 kHz included). State carries across calls.
// The wire is little-endian; typed arrays use the platform's order, which is
// little-endian on every platform browsers ship on. swap16 covers the rest.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function swap16(a) {
  for (let i = 0; i < a.length; i++) a[i] = ((a[i] & 0xff) << 8) | ((a[i] >> 8) & 0xff)
}

const KERNEL_ZEROS = 16 // zero crossings of the sinc on each side
const KERNEL_RES = 64 // table points per input sample
const KAISER_BETA = 8.6 // ~85 dB stopband
const PASSBAND = 0.85 // cutoff as a fraction of the lower Nyquist frequency

function besselI0(x) {
  let sum = 1
  let term = 1
  const q = (x * x) / 4
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k)
    sum += term
    if (term < sum * 1e-12) break
  }
  return sum
}

class Resampler {
  constructor(inRate, outRate) {
    this.inRate = inRate
    this.outRate = outRate
    this.step = inRate / outRate // input samples per output sample
    this.passthrough = inRate === outRate
    const fc = 0.5 * Math.min(1, outRate / inRate) * PASSBAND // cycles per input sample
    this.half = Math.ceil(KERNEL_ZEROS / (2 * fc)) // kernel half-width, input samples
    const n = 2 * this.half * KERNEL_RES
    this.table = new Float32Array(n + 2)
    const i0b = besselI0(KAISER_BETA)
    for (let i = 0; i <= n; i++) {
      const x = i / KERNEL_RES - this.half
      const r = x / this.half
      const w = Math.abs(r) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0b
      const a = 2 * fc * x
      const sinc = a === 0 ? 1 : Math.sin(Math.PI * a) / (Math.PI * a)
      this.table[i] = 2 * fc * sinc * w // DC gain 1 at every fractional phase
    }
    this.buf = new Float32Array(8192)
    this.out = new Float32Array(1024)
    this.reset()
  }

  // reset forgets the stream: the next sample starts a new one.
  reset() {
    this.buf.fill(0, 0, this.half)
    this.len = this.half // history of zeros so the first output is centred on the first input
    this.t = this.half // position of the next output, in input samples from buf[0]
  }

  // process consumes input and returns how many output samples it wrote to
  // this.out, which it owns and overwrites on the next call.
  process(input) {
    if (this.passthrough) {
      this.ensureOut(input.length)
      this.out.set(input)
      return input.length
    }
    if (this.len + input.length > this.buf.length) {
      const grown = new Float32Array(2 * (this.len + input.length))
      grown.set(this.buf.subarray(0, this.len))
      this.buf = grown
    }
    this.buf.set(input, this.len)
    this.len += input.length
    this.ensureOut(Math.ceil(input.length / this.step) + 2)

    const { buf, table, half, step, out } = this
    let t = this.t
    let n = 0
    while (t + half < this.len) {
      const first = Math.ceil(t - half)
      const last = Math.floor(t + half)
      let acc = 0
      for (let k = first; k <= last; k++) {
        const x = (t - k + half) * KERNEL_RES
        const i = x | 0
        const h = table[i] + (x - i) * (table[i + 1] - table[i])
        acc += buf[k] * h
      }
      out[n++] = acc
      t += step
    }
    const drop = Math.floor(t - half)
    if (drop > 0) {
      buf.copyWithin(0, drop, this.len)
      this.len -= drop
      t -= drop
    }
    this.t = t
    return n
  }

  ensureOut(n) {
    if (this.out.length < n) this.out = new Float32Array(2 * n)
  }
}

// CaptureProcessor turns the microphone into 20 ms PCM16LE frames at the
// session's input rate. Frames are posted as transferred ArrayBuffers; the
// page sends each one back ({type: 'recycle', buf}) once the WebSocket has
// copied it, so the steady state allocates nothing.
//
// Messages in: {type: 'config', rate, frameMs} (rate change), {type: 'recycle', buf}.
// Messages out: ArrayBuffer (one frame of Int16 samples).
class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super()
    const o = (options && options.processorOptions) || {}
    this.pool = []
    this.configure(o.rate || 16000, o.frameMs || 20)
    this.port.onmessage = (e) => {
      const m = e.data
      if (m.type === 'recycle') {
        if (m.buf.byteLength === this.frameLen * 2 && this.pool.length < 16) this.pool.push(m.buf)
      } else if (m.type === 'config') {
        this.configure(m.rate, m.frameMs || 20)
      }
    }
  }

  configure(rate, frameMs) {
    if (this.rs && this.rs.outRate === rate && this.frameMs === frameMs) return
    this.rs = new Resampler(sampleRate, rate)
    this.frameMs = frameMs
    this.frameLen = Math.round((rate * frameMs) / 1000)
    this.pool = []
    this.frame = new Int16Array(this.frameLen)
    this.fill = 0
  }

  process(inputs) {
    const input = inputs[0]
    if (!input || input.length === 0) return true // no source connected yet
    const n = this.rs.process(input[0]) // the node downmixes to one channel
    const out = this.rs.out
    for (let i = 0; i < n; i++) {
      let s = out[i]
      s = s > 1 ? 1 : s < -1 ? -1 : s
      this.frame[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff
      if (this.fill === this.frameLen) {
        if (!LITTLE_ENDIAN) swap16(this.frame)
        const buf = this.frame.buffer
        this.port.postMessage(buf, [buf])
        const next = this.pool.pop()
        this.frame = next ? new Int16Array(next) : new Int16Array(this.frameLen)
        this.fill = 0
      }
    }
    return true
  }
}

// PlaybackProcessor plays the assistant's reply gaplessly. Reply audio
// arrives in network-sized pieces; it is resampled to the context rate on
// arrival into a ring buffer, and playback of a turn starts once PREBUFFER
// of it is queued (or its end is known), which absorbs network jitter. An
// underrun goes back to prebuffering (REBUFFER) rather than crackling.
//
// Messages in:
//   {type: 'start', turn, rate}   a reply begins; its PCM16 is at rate Hz
//   {type: 'pcm', buf}            ArrayBuffer of Int16 samples of that reply
//   {type: 'end'}                 no more audio for this reply
//   {type: 'flush'}               barge-in: fade out over this render quantum
//                                 (≤ 128 samples, under 3 ms) and drop the queue
//   {type: 'pause'}               fade out over this render quantum, then output
//                                 silence, keeping the queue (and what arrives):
//                                 the user may be taking the turn
//   {type: 'resume'}              play on from where the pause left off, faded in
// Messages out:
//   {type: 'first', turn, time}   the reply's first audible sample is output
//                                 at context time `time` (seconds)
//   {type: 'drained', turn}       the reply has been played to its end
//   {type: 'stats', ...}          counters, ~10 times a second; turn and
//                                 turnNonZero are the reply last started and
//                                 its audible samples so far
const PREBUFFER = 0.06 // seconds
const REBUFFER = 0.04
const AUDIBLE = 1 / 32768 // below one LSB of PCM16 a sample counts as silence

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super()
    const o = (options && options.processorOptions) || {}
    this.rs = new Resampler(o.rate || 16000, sampleRate)
    this.ring = new Float32Array(1 << 19) // ~11 s at 48 kHz; grows if a reply arrives faster
    this.read = 0
    this.count = 0
    this.conv = new Float32Array(4096)
    this.state = 'idle' // idle | buffering | playing
    this.ended = false
    this.turn = null
    this.heard = false
    this.fade = false
    this.paused = false // holding the queue (pause)
    this.pausing = false // fading out this quantum, then paused
    this.fadeIn = false // the first quantum after a resume
    this.played = 0 // samples output while a reply was playing
    this.nonZero = 0 // of those, the audible ones
    this.turnNonZero = 0 // the audible ones of this.turn's reply
    this.underruns = 0
    this.flushes = 0
    this.statsEvery = Math.round(sampleRate / 10 / 128)
    this.quanta = 0
    this.port.onmessage = (e) => this.onMessage(e.data)
  }

  onMessage(m) {
    switch (m.type) {
      case 'start':
        if (m.rate && m.rate !== this.rs.inRate) this.rs = new Resampler(m.rate, sampleRate)
        this.rs.reset()
        this.read = 0
        this.count = 0
        this.fade = false
        this.turn = m.turn
        this.turnNonZero = 0
        this.ended = false
        this.heard = false
        this.paused = false // a reply's audio follows its resume
        this.pausing = false
        this.fadeIn = false
        this.state = 'buffering'
        break
      case 'pcm': {
        if (this.state === 'idle') return // after a flush or end: stale audio
        const pcm = new Int16Array(m.buf)
        if (!LITTLE_ENDIAN) swap16(pcm)
        this.push(pcm)
        break
      }
      case 'end':
        this.ended = true
        if (this.state === 'buffering' && this.count === 0) this.finish()
        break
      case 'flush':
        if (this.state === 'playing' && this.count > 0 && !this.paused) this.fade = true
        else this.clear()
        this.paused = false
        this.pausing = false
        this.flushes++
        break
      case 'pause':
        if (this.state === 'playing' && this.count > 0 && !this.paused) this.pausing = true
        else this.paused = true
        break
      case 'resume':
        if (this.paused) this.fadeIn = true
        this.paused = false
        this.pausing = false
        break
    }
  }

  push(pcm) {
    if (this.conv.length < pcm.length) this.conv = new Float32Array(2 * pcm.length)
    const f = this.conv.subarray(0, pcm.length)
    for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768
    const n = this.rs.process(f)
    const out = this.rs.out
    if (this.count + n > this.ring.length) this.grow(this.count + n)
    const size = this.ring.length
    let w = (this.read + this.count) % size
    for (let i = 0; i < n; i++) {
      this.ring[w] = out[i]
      if (++w === size) w = 0
    }
    this.count += n
  }

  grow(need) {
    let size = this.ring.length
    while (size < need) size *= 2
    const r = new Float32Array(size)
    for (let i = 0; i < this.count; i++) r[i] = this.ring[(this.read + i) % this.ring.length]
    this.ring = r
    this.read = 0
  }

  clear() {
    this.read = 0
    this.count = 0
    this.fade = false
    this.state = 'idle'
  }

  finish() {
    const turn = this.turn
    this.clear()
    this.port.postMessage({ type: 'drained', turn })
  }

  process(inputs, outputs) {
    const out = outputs[0][0]
    const len = out.length
    if (this.state === 'buffering') {
      const need = (this.heard ? REBUFFER : PREBUFFER) * sampleRate
      if (this.count >= need || (this.ended && this.count > 0)) this.state = 'playing'
    }
    if (this.state === 'playing' && !this.paused) {
      const n = Math.min(len, this.count)
      const size = this.ring.length
      let r = this.read
      for (let i = 0; i < n; i++) {
        let s = this.ring[r]
        if (++r === size) r = 0
        if (this.fade || this.pausing) s *= 1 - i / n
        else if (this.fadeIn) s *= i / n
        out[i] = s
        if (s > AUDIBLE || s < -AUDIBLE) {
          this.nonZero++
          this.turnNonZero++
          if (!this.heard) {
            this.heard = true
            this.port.postMessage({ type: 'first', turn: this.turn, time: (currentFrame + i) / sampleRate })
          }
        }
      }
      this.read = r
      this.count -= n
      this.played += n
      this.fadeIn = false
      if (this.pausing) {
        this.pausing = false
        this.paused = true
      }
      if (this.fade) {
        this.clear()
      } else if (this.count === 0) {
        if (this.ended) this.finish()
        else if (n < len) {
          this.underruns++
          this.state = 'buffering'
        }
      }
    }
    if (++this.quanta >= this.statsEvery) {
      this.quanta = 0
      this.port.postMessage({
        type: 'stats',
        played: this.played,
        nonZero: this.nonZero,
        underruns: this.underruns,
        flushes: this.flushes,
        queuedMs: (this.count / sampleRate) * 1000,
        turn: this.turn,
        turnNonZero: this.turnNonZero,
      })
    }
    return true
  }
}

registerProcessor('vg-capture', CaptureProcessor)
registerProcessor('vg-playback', PlaybackProcessor)
