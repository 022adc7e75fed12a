// What the views share: finding an element, and writing only what changed
// (a write of the same text still replaces the node and relays out).

export const $ = (id) => document.getElementById(id)

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text
}
