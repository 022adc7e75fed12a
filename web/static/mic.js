// The microphone: starting it (at load, on Retry, when a device appears),
// the click some browsers want before audio may start, and the mute
// button. It reports to the state (mic, mic-waiting, mic-ended, mute
// events) and draws state.mic and state.muted.
//
// Query parameters ec=0, ns=0, agc=0 turn off the browser's echo
// cancellation, noise suppression and automatic gain control (all on by
// default).

import { micProblem } from './audio.js'
import { setText } from './dom.js'

const SHOWN = { denied: 'blocked', nodevice: 'none found', insecure: 'needs https' }

// micControl wires the microphone of engine (an AudioEngine) to the page.
// els: {mute, muteLabel, info, start}.
export function micControl({ engine, dispatch, getState, els }) {
  const { mute, muteLabel, info, start } = els
  let drawn = {}

  async function startMic() {
    try {
      await engine.resume()
      const q = new URLSearchParams(location.search)
      const label = await engine.startMic(engine.inputRate, {
        echoCancellation: q.get('ec') !== '0',
        noiseSuppression: q.get('ns') !== '0',
        autoGainControl: q.get('agc') !== '0',
      })
      dispatch({ type: 'mic', label })
    } catch (err) {
      dispatch({ type: 'mic', problem: micProblem(err) })
    }
  }

  mute.addEventListener('click', () => dispatch({ type: 'mute', muted: !getState().muted }))

  return {
    start: startMic,

    // begin starts the microphone once the audio engine runs, after a
    // click or key press if the browser's autoplay policy wants one.
    async begin() {
      if (engine.running) {
        await startMic()
      } else {
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
        dispatch({ type: 'mic-waiting' })
      }
      if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
        navigator.mediaDevices.addEventListener('devicechange', () => {
          const p = getState().mic.problem
          if (p && (p.kind === 'nodevice' || p.kind === 'busy')) startMic()
        })
      }
    },

    // ended is the engine's report that the track ended (unplugged).
    ended() {
      engine.stopMic()
      dispatch({ type: 'mic-ended' })
    },

    render(s) {
      if (s.mic === drawn.mic && s.muted === drawn.muted) return
      drawn = { mic: s.mic, muted: s.muted }
      const label = s.muted ? 'Unmute the microphone' : 'Mute the microphone'
      mute.setAttribute('aria-pressed', String(s.muted))
      mute.title = label
      setText(muteLabel, label)
      mute.disabled = s.mic.status === 'failed'
      setText(info, describe(s.mic))
    },
  }
}

function describe(mic) {
  switch (mic.status) {
    case 'on':
      return mic.label || 'on'
    case 'failed':
      return SHOWN[mic.problem.kind] || 'unavailable'
    case 'stopped':
      return 'stopped'
    case 'waiting':
      return 'waiting for a click'
    default:
      return '—'
  }
}
