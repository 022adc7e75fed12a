// The live waveform: two scrolling lanes of level bars, the user's
// microphone above and the assistant's voice below, over the last ~5 s.
// Levels are read from AnalyserNodes, so drawing costs the audio nothing.

const COLUMNS = 160
const COLUMN_MS = 33 // ~30 columns a second
const FLOOR_DB = -62 // level shown as silence
const RANGE_DB = 50 // from silence to a full bar

// startScope draws into canvas until the page goes away. sources() returns
// the analysers to read now: {you, bot}, either of which may be null.
export function startScope(canvas, sources) {
  const g = canvas.getContext('2d')
  const you = new Float32Array(COLUMNS)
  const bot = new Float32Array(COLUMNS)
  const buf = new Float32Array(1024)
  let head = 0
  let colors = readColors()
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => (colors = readColors()))

  const level = (an) => {
    if (!an) return 0
    const data = an.fftSize === buf.length ? buf : new Float32Array(an.fftSize)
    an.getFloatTimeDomainData(data)
    let sum = 0
    for (let i = 0; i < data.length; i++) sum += data[i] * data[i]
    const db = 10 * Math.log10(sum / data.length + 1e-12)
    return Math.min(1, Math.max(0, (db - FLOOR_DB) / RANGE_DB))
  }

  let last = 0
  const frame = (now) => {
    requestAnimationFrame(frame)
    if (now - last < COLUMN_MS) return
    last = now
    const src = sources()
    you[head] = level(src.you)
    bot[head] = level(src.bot)
    head = (head + 1) % COLUMNS

    const dpr = window.devicePixelRatio || 1
    const w = Math.round(canvas.clientWidth * dpr)
    const h = Math.round(canvas.clientHeight * dpr)
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w
      canvas.height = h
    }
    g.clearRect(0, 0, w, h)
    const lane = h / 2
    const step = w / COLUMNS
    const bw = Math.max(1, step * 0.6)
    const draw = (levels, mid, color) => {
      g.fillStyle = colors.grid
      g.fillRect(0, mid - dpr / 2, w, dpr)
      g.fillStyle = color
      for (let i = 0; i < COLUMNS; i++) {
        const v = levels[(head + i) % COLUMNS]
        if (v < 0.02) continue
        const bh = Math.max(dpr, v * lane * 0.42)
        g.fillRect(i * step + (step - bw) / 2, mid - bh, bw, bh * 2)
      }
    }
    draw(you, lane * 0.5, colors.you)
    draw(bot, lane * 1.5, colors.bot)
  }
  requestAnimationFrame(frame)
}

function readColors() {
  const cs = getComputedStyle(document.documentElement)
  return {
    you: cs.getPropertyValue('--you').trim() || '#3b82f6',
    bot: cs.getPropertyValue('--bot').trim() || '#10b981',
    grid: cs.getPropertyValue('--line').trim() || '#8884',
  }
}
