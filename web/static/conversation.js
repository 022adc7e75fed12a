// The conversation view: draws state.messages into the #conversation list.
// Each message keeps its <li> (by id), so a streaming reply rewrites one
// paragraph, not the list. The list follows its end while the reader is
// there, and always when the user has just sent a message.

const FOLLOW_PX = 48 // this close to the end counts as "at the end"

// conversationView returns render(messages) for the list log; empty is the
// placeholder shown while there are no messages.
export function conversationView(log, empty) {
  const items = new Map() // message id → {li, text, meta, m}
  let drawn = null
  const wrap = log.parentElement

  return function render(messages) {
    if (messages === drawn) return
    drawn = messages
    const follow = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < FOLLOW_PX
    let sent = false
    const ids = new Set(messages.map((m) => m.id))
    for (const [id, it] of items) {
      if (!ids.has(id)) {
        it.li.remove()
        items.delete(id)
      }
    }
    let next = log.firstElementChild
    for (const m of messages) {
      let it = items.get(m.id)
      if (!it) {
        it = create(m)
        items.set(m.id, it)
        if (m.classes.includes('typed')) sent = true
      } else if (it.m !== m) {
        update(it, m)
      }
      if (it.li === next) next = next.nextElementSibling
      else log.insertBefore(it.li, next)
    }
    empty.hidden = messages.length > 0
    if (follow || sent) wrap.scrollTop = wrap.scrollHeight
  }
}

function create(m) {
  const li = document.createElement('li')
  if (m.role !== 'system') {
    const who = document.createElement('div')
    who.className = 'who'
    who.textContent = m.role === 'user' ? 'You' : 'Assistant'
    li.append(who)
  }
  const bubble = document.createElement('div')
  bubble.className = 'bubble'
  const text = document.createElement('p')
  text.className = 'text'
  bubble.append(text)
  const meta = document.createElement('div')
  meta.className = 'meta'
  li.append(bubble, meta)
  const it = { li, text, meta, m: null }
  update(it, m)
  return it
}

function update(it, m) {
  const was = it.m
  if (!was || was.text !== m.text) it.text.textContent = m.text
  if (!was || was.meta !== m.meta) it.meta.textContent = m.meta
  if (!was || was.classes !== m.classes) it.li.className = ['msg', m.role, ...m.classes].join(' ')
  if (!was || was.turn !== m.turn) {
    if (m.turn != null) it.li.dataset.turn = m.turn
    else delete it.li.dataset.turn
  }
  it.m = m
}
