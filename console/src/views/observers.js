// Observers: the list with a search box, enable and disable, and the create and edit forms.
import { useState } from 'preact/hooks'
import { api } from '../api.js'
import { Empty, ErrorNote, Status, TableRegion } from '../components.js'
import { usePoll } from '../hooks.js'
import { html } from '../html.js'
import { ObserverForm } from './observer-form.js'

export async function loadObservers () {
  const page = await api('GET', '?page_size=100')
  return page.data
}

function matches (observer, search) {
  const text = search.trim().toLowerCase()
  if (text === '') return true
  return [observer.name, observer.description, observer.entity_type, observer.event_type, observer.condition_expression]
    .some((v) => typeof v === 'string' && v.toLowerCase().includes(text))
}

export function Observers ({ canAct }) {
  const [search, setSearch] = useState('')
  const [editing, setEditing] = useState(null)
  const [message, setMessage] = useState(null)
  const [error, setError] = useState(null)
  const list = usePoll(loadObservers, 10_000)

  const toggle = async (observer) => {
    setError(null)
    try {
      await api('POST', `/${observer.id}/${observer.enabled ? 'disable' : 'enable'}`)
      setMessage(`${observer.name} ${observer.enabled ? 'disabled' : 'enabled'}.`)
      await list.reload()
    } catch (err) { setError(err) }
  }

  if (editing !== null) {
    return html`<${ObserverForm} observer=${editing === 'new' ? null : editing}
      onDone=${async (saved) => { setEditing(null); if (saved) { setMessage(`${saved.name} saved.`); await list.reload() } }} />`
  }
  const observers = list.data ?? []
  const shown = observers.filter((o) => matches(o, search))
  return html`
    <div class="toolbar">
      <div class="field inline">
        <label for="observer-search">Search observers</label>
        <input id="observer-search" type="search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} />
      </div>
      ${canAct && html`<button type="button" onClick=${() => { setMessage(null); setEditing('new') }}>New observer</button>`}
    </div>
    <${Status} message=${message} />
    <${ErrorNote} error=${error ?? list.error} />
    ${list.data !== undefined && shown.length === 0
      ? html`<${Empty}>${observers.length === 0 ? 'No observer yet.' : 'No observer matches the search.'}<//>`
      : html`
      <${TableRegion} label="Observers">
        <table class="stack">
          <caption class="visually-hidden">Observers${search === '' ? '' : ` matching “${search}”`}</caption>
          <thead><tr>
            <th scope="col">Name</th><th scope="col">Entity</th><th scope="col">Event</th><th scope="col">Condition</th>
            <th scope="col">Actions</th><th scope="col">State</th>${canAct && html`<th scope="col"><span class="visually-hidden">Operations</span></th>`}
          </tr></thead>
          <tbody>
            ${shown.map((o) => html`
              <tr key=${o.id}>
                <th scope="row">${o.name}${o.description !== null && html`<div class="sub">${o.description}</div>`}</th>
                <td data-label="Entity">${o.entity_type ?? 'any'}</td>
                <td data-label="Event">${o.event_type ?? 'any'}</td>
                <td data-label="Condition"><code>${o.condition_expression ?? '—'}</code></td>
                <td data-label="Actions">${o.actions.map((a) => a.type).join(', ')}</td>
                <td data-label="State">${o.enabled ? 'enabled' : html`disabled${o.disabled_reason ? html`<div class="sub">${o.disabled_reason}</div>` : ''}`}${o.ordering === 'entity' ? html`<div class="sub">ordered</div>` : ''}</td>
                ${canAct && html`<td class="row-buttons">
                  <button type="button" class="secondary" onClick=${() => { setMessage(null); setEditing(o) }}>Edit</button>
                  <button type="button" onClick=${() => toggle(o)}>${o.enabled ? 'Disable' : 'Enable'}</button>
                </td>`}
              </tr>`)}
          </tbody>
        </table>
      <//>`}`
}
