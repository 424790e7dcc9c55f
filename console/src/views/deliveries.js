// Deliveries: a live tail of the execution log (newest first), filtered by observer, status and entity.
import { useState } from 'preact/hooks'
import { api, query } from '../api.js'
import { Empty, ErrorNote, TableRegion, time } from '../components.js'
import { usePoll } from '../hooks.js'
import { html } from '../html.js'
import { loadObservers } from './observers.js'

const TAIL_MS = 2000
const STATUSES = ['success', 'failed', 'timeout', 'skipped', 'cancelled']

export function ObserverSelect ({ id, value, onChange, observers }) {
  return html`
    <div class="field inline">
      <label for=${id}>Observer</label>
      <select id=${id} value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
        <option value="">All</option>
        ${(observers ?? []).map((o) => html`<option value=${o.id}>${o.name}</option>`)}
      </select>
    </div>`
}

export function Deliveries () {
  const [observerId, setObserverId] = useState('')
  const [status, setStatus] = useState('')
  const [entityType, setEntityType] = useState('')
  const [paused, setPaused] = useState(false)
  const observers = usePoll(loadObservers, 30_000)
  const names = new Map((observers.data ?? []).map((o) => [o.id, o.name]))
  const filters = { observer_id: observerId, status, entity_type: entityType.trim(), limit: 50 }
  const tail = usePoll(async () => await api('GET', `/logs${query(filters)}`), TAIL_MS, [observerId, status, entityType], paused)
  const rows = tail.data?.data ?? []
  return html`
    <form class="toolbar filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filters">
      <${ObserverSelect} id="deliveries-observer" value=${observerId} onChange=${setObserverId} observers=${observers.data} />
      <div class="field inline">
        <label for="deliveries-status">Status</label>
        <select id="deliveries-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
          <option value="">All</option>${STATUSES.map((s) => html`<option>${s}</option>`)}
        </select>
      </div>
      <div class="field inline">
        <label for="deliveries-entity">Entity type</label>
        <input id="deliveries-entity" value=${entityType} onInput=${(e) => setEntityType(e.currentTarget.value)} />
      </div>
      <button type="button" class="secondary" aria-pressed=${paused ? 'true' : 'false'} onClick=${() => setPaused(!paused)}>${paused ? 'Resume live tail' : 'Pause live tail'}</button>
    </form>
    <p class="help">${paused ? 'Paused.' : `Live: the newest 50 attempts, every ${TAIL_MS / 1000} s.`}</p>
    <${ErrorNote} error=${tail.error} />
    ${tail.data !== undefined && rows.length === 0
      ? html`<${Empty}>No delivery matches.<//>`
      : html`
      <${TableRegion} label="Deliveries">
        <table class="stack">
          <thead><tr>
            <th scope="col">Time</th><th scope="col">Observer</th><th scope="col">Entity</th><th scope="col">Event</th>
            <th scope="col">Action</th><th scope="col">Status</th><th scope="col">Attempt</th><th scope="col">HTTP</th>
            <th scope="col">ms</th><th scope="col">Error</th>
          </tr></thead>
          <tbody>
            ${rows.map((r) => html`
              <tr key=${r.id} class=${`status-${r.status}`}>
                <td data-label="Time">${time(r.completed_at ?? r.started_at)}</td>
                <td data-label="Observer">${names.get(r.observer_id) ?? r.observer_id}</td>
                <td data-label="Entity">${r.entity_type} ${r.entity_id}</td>
                <td data-label="Event">${r.event_type}</td>
                <td data-label="Action">${r.action_index + 1}: ${r.action_type}</td>
                <td data-label="Status"><span class=${`pill ${r.status}`}>${r.status}</span></td>
                <td data-label="Attempt">${r.attempt_number}/${r.max_attempts}</td>
                <td data-label="HTTP">${r.response_status_code ?? '—'}</td>
                <td data-label="ms">${r.duration_ms ?? '—'}</td>
                <td data-label="Error">${r.error_message ?? ''}</td>
              </tr>`)}
          </tbody>
        </table>
      <//>`}`
}
