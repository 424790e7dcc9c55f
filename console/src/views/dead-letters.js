// Dead letters: inspect the event and the last request, retry or discard one, or all that the
// filters select (each of those after a confirmation).
import { useState } from 'preact/hooks'
import { api, query } from '../api.js'
import { Empty, ErrorNote, Json, Status, TableRegion, time } from '../components.js'
import { useConfirm, usePoll } from '../hooks.js'
import { html } from '../html.js'
import { ObserverSelect } from './deliveries.js'
import { loadObservers } from './observers.js'

/** The request as logged, its JSON body shown as JSON rather than as one escaped string. */
function readable (request) {
  if (typeof request?.body !== 'string') return request
  try { return { ...request, body: JSON.parse(request.body) } } catch { return request }
}

function Inspect ({ item }) {
  const details = usePoll(async () => {
    const [letter, attempts] = await Promise.all([
      api('GET', `/dlq/${item.id}`),
      api('GET', `/logs${query({ event_id: item.event_id, observer_id: item.observer_id ?? undefined, limit: 10 })}`)
    ])
    const last = attempts.data.find((a) => a.action_index === item.action_index) ?? null
    return { letter, last }
  }, 0, [item.id])
  const d = details.data
  return html`
    <div class="inspect">
      <${ErrorNote} error=${details.error} />
      ${d !== undefined && html`
        <h4>Event</h4>
        <${Json} value=${d.letter.event} label="Event" />
        <h4>Last attempt</h4>
        ${d.last === null
          ? html`<p>No attempt of it is left in the log (retention.logDays removes old ones).</p>`
          : html`
            <p>${time(d.last.started_at)}: ${d.last.status}${d.last.response_status_code !== null ? `, HTTP ${d.last.response_status_code}` : ''}${d.last.error_message ? ` — ${d.last.error_message}` : ''}</p>
            ${d.last.request_payload !== null && html`<${Json} value=${readable(d.last.request_payload)} label="Last request" />`}
            ${d.last.response_payload !== null && html`<${Json} value=${d.last.response_payload} label="Last response" />`}`}`}
    </div>`
}

export function DeadLetters ({ canAct }) {
  const [observerId, setObserverId] = useState('')
  const [actionType, setActionType] = useState('')
  const [entityType, setEntityType] = useState('')
  const [open, setOpen] = useState(null)
  const [message, setMessage] = useState(null)
  const [error, setError] = useState(null)
  const [dialog, ask] = useConfirm()
  const observers = usePoll(loadObservers, 30_000)
  const filter = { observer_id: observerId || undefined, action_type: actionType.trim() || undefined, entity_type: entityType.trim() || undefined }
  const list = usePoll(async () => await api('GET', `/dlq${query({ ...filter, limit: 100 })}`), 5000, [observerId, actionType, entityType])
  const items = list.data?.data ?? []
  const filtered = Object.values(filter).some((v) => v !== undefined)

  const act = async (work) => {
    setError(null)
    setMessage(null)
    try { setMessage(await work()) } catch (err) { setError(err) }
    await list.reload()
  }
  const retry = (item) => act(async () => {
    const result = await api('POST', `/dlq/${item.id}/retry`)
    return result.status === 'delivered' ? `Delivered: ${item.entity_type} ${item.entity_id} (${item.action_type}).` : `Failed again: ${result.error_message ?? ''}`
  })
  const discard = async (item) => {
    if (!await ask(`Discard the dead letter of ${item.entity_type} ${item.entity_id} (${item.action_type})? It will not be delivered.`, 'Discard')) return
    await act(async () => { await api('DELETE', `/dlq/${item.id}`); return 'Discarded.' })
  }
  const scope = filtered ? 'every dead letter the filters select' : 'every dead letter'
  const retryAll = async () => {
    if (!await ask(`Retry ${scope} now?`, 'Retry all')) return
    await act(async () => {
      const r = await api('POST', '/dlq/retry-all', filter)
      return `Retried ${r.retried}: ${r.delivered} delivered, ${r.failed} failed again.`
    })
  }
  const discardAll = async () => {
    if (!await ask(`Discard ${scope}? They will not be delivered.`, 'Discard all')) return
    await act(async () => `Discarded ${(await api('POST', '/dlq/discard-all', filter)).discarded}.`)
  }
  return html`
    ${dialog}
    <form class="toolbar filters" onSubmit=${(e) => e.preventDefault()} aria-label="Filters">
      <${ObserverSelect} id="dlq-observer" value=${observerId} onChange=${setObserverId} observers=${observers.data} />
      <div class="field inline">
        <label for="dlq-action-type">Action type</label>
        <input id="dlq-action-type" value=${actionType} onInput=${(e) => setActionType(e.currentTarget.value)} />
      </div>
      <div class="field inline">
        <label for="dlq-entity">Entity type</label>
        <input id="dlq-entity" value=${entityType} onInput=${(e) => setEntityType(e.currentTarget.value)} />
      </div>
      ${canAct && items.length > 0 && html`
        <button type="button" onClick=${retryAll}>Retry all</button>
        <button type="button" class="danger" onClick=${discardAll}>Discard all</button>`}
    </form>
    <${Status} message=${message} />
    <${ErrorNote} error=${error ?? list.error} />
    ${list.data !== undefined && items.length === 0
      ? html`<${Empty}>No dead letter${filtered ? ' matches the filters' : ''}.<//>`
      : html`
      <${TableRegion} label="Dead letters">
        <table class="stack">
          <thead><tr>
            <th scope="col">Last failed</th><th scope="col">Observer</th><th scope="col">Entity</th><th scope="col">Event</th>
            <th scope="col">Action</th><th scope="col">Error</th><th scope="col">Attempts</th><th scope="col"><span class="visually-hidden">Operations</span></th>
          </tr></thead>
          <tbody>
            ${items.map((d) => html`
              <tr key=${d.id}>
                <td data-label="Last failed">${time(d.last_failed_at)}</td>
                <td data-label="Observer">${d.observer_name ?? '—'}</td>
                <td data-label="Entity">${d.entity_type} ${d.entity_id}</td>
                <td data-label="Event">${d.event_type}</td>
                <td data-label="Action">${d.action_index === null ? '—' : `${d.action_index + 1}: ${d.action_type}`}</td>
                <td data-label="Error"><code>${d.error_code}</code> ${d.error_message}</td>
                <td data-label="Attempts">${d.attempts}</td>
                <td class="row-buttons">
                  <button type="button" class="secondary" aria-expanded=${open === d.id ? 'true' : 'false'} onClick=${() => setOpen(open === d.id ? null : d.id)}>Inspect</button>
                  ${canAct && html`
                    <button type="button" onClick=${() => retry(d)}>Retry</button>
                    <button type="button" class="danger" onClick=${() => discard(d)}>Discard</button>`}
                </td>
              </tr>
              ${open === d.id && html`<tr class="inspect-row"><td colspan="8"><${Inspect} item=${d} /></td></tr>`}`)}
          </tbody>
        </table>
      <//>`}`
}
