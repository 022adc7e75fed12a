// How the page writes durations and sample rates.

export function fmtMs(ms, digits = 0) {
  return `${ms.toFixed(ms < 10 && digits ? digits : 0)} ms`
}

export function fmtRate(hz) {
  return hz ? `${(hz / 1000).toFixed(hz % 1000 ? 2 : 0)} kHz` : '—'
}
