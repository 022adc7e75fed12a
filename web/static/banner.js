// The banner: one notice at a time above the page (the connection, the
// microphone, a refused message, a server error), drawn from state.banner.
// Its button runs the action the banner names.

import { setText } from './dom.js'

// bannerView returns render(banner). actions maps an action's run name
// ('mic', 'reconnect') to what it does; close is called when the user
// dismisses the banner.
export function bannerView({ box, text, button, dismiss }, actions, close) {
  let drawn = null
  button.addEventListener('click', () => {
    const run = drawn && drawn.action && actions[drawn.action.run]
    if (run) run()
  })
  dismiss.addEventListener('click', close)

  return function render(banner) {
    if (banner === drawn) return
    drawn = banner
    box.hidden = !banner
    if (!banner) return
    box.dataset.level = banner.level
    setText(text, banner.text)
    button.hidden = !banner.action
    if (banner.action) setText(button, banner.action.label)
  }
}
