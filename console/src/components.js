// Pieces every view uses: messages, a scrollable table region, times and JSON shown compactly.
import { html } from './html.js'

export function ErrorNote ({ error }) {
  if (error === null || error === undefined) return null
  return html`<p class="error" role="alert">${error.message ?? String(error)}</p>`
}

export function Status ({ message }) {
  return html`<p class="status" role="status">${message ?? ''}</p>`
}

/** A table that scrolls sideways on narrow screens; focusable so the keyboard can scroll it. */
export function TableRegion ({ label, children }) {
  return html`<div class="table-region" role="region" aria-label=${label} tabindex="0">${children}</div>`
}

export function time (value) {
  if (value === null || value === undefined) return '—'
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString()
}

export function Json ({ value, label }) {
  return html`<pre class="json" aria-label=${label} tabindex="0">${JSON.stringify(value, null, 2)}</pre>`
}

export function Empty ({ children }) {
  return html`<p class="empty">${children}</p>`
}
