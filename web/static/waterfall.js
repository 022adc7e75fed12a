// The latency waterfall: the milestones of the last turn shown
// (state.lastLatency) as bars on one time axis, each starting where the
// previous one ended, and the first sound of recent turns below it.

import { setText } from './dom.js'
import { fmtMs } from './format.js'

// waterfallView returns render(latency, history). rows holds one <li
// data-key> per milestone, with .wf-bar and .wf-val inside.
export function waterfallView({ rows, turn, note, history }) {
  let drawnLatency = null
  let drawnHistory = null
  return function render(latency, past) {
    if (latency !== drawnLatency && latency) drawRows(latency)
    drawnLatency = latency
    if (past !== drawnHistory) drawHistory(past)
    drawnHistory = past
  }

  function drawRows(latency) {
    const values = [...rows.children].map((li) => latency[li.dataset.key]).filter((v) => typeof v === 'number')
    const max = Math.max(1, ...values)
    let prev = 0
    for (const li of rows.children) {
      const v = latency[li.dataset.key]
      const bar = li.querySelector('.wf-bar')
      const val = li.querySelector('.wf-val')
      if (typeof v !== 'number') {
        li.classList.add('absent')
        bar.style.setProperty('--from', 0)
        bar.style.setProperty('--to', 0)
        setText(val, '—')
        continue
      }
      li.classList.remove('absent')
      const from = Math.min(prev, v)
      bar.style.setProperty('--from', from / max)
      bar.style.setProperty('--to', v / max)
      setText(val, fmtMs(v))
      val.title = `+${fmtMs(v - from)} after the previous step`
      prev = Math.max(prev, v)
    }
    setText(turn, `· turn ${latency.turn}${latency.text_input ? ' (typed)' : ''}${latency.cancelled ? ' (cut)' : ''}`)
    setText(
      note,
      latency.text_input
        ? 'After your message arrived; the last row is measured in this page.'
        : 'After the end of your speech; the last row is measured in this page.',
    )
  }

  function drawHistory(past) {
    history.replaceChildren(
      ...past.map((h) => {
        const li = document.createElement('li')
        li.textContent = fmtMs(h.ms)
        li.title = `Turn ${h.turn}: first sound after ${fmtMs(h.ms)}`
        return li
      }),
    )
  }
}
