// Blocked keys: per ordered observer, the entities held until a failed delivery resolves, and
// the delivery that blocks each.
import { api } from '../api.js'
import { Empty, ErrorNote, TableRegion, time } from '../components.js'
import { usePoll } from '../hooks.js'
import { html } from '../html.js'
import { loadObservers } from './observers.js'

async function loadBlocked () {
  const ordered = (await loadObservers()).filter((o) => o.ordering === 'entity')
  return await Promise.all(ordered.map(async (o) => ({ observer: o, keys: (await api('GET', `/${o.id}/blocked?limit=100`)).data })))
}

export function BlockedKeys () {
  const blocked = usePoll(loadBlocked, 5000)
  const groups = blocked.data ?? []
  return html`
    <${ErrorNote} error=${blocked.error} />
    ${blocked.data !== undefined && groups.length === 0 && html`<${Empty}>No observer delivers in order (ordering “entity”), so no key can be blocked.<//>`}
    ${groups.map(({ observer, keys }) => html`
      <section aria-labelledby=${`blocked-${observer.id}`} key=${observer.id}>
        <h2 id=${`blocked-${observer.id}`}>${observer.name}</h2>
        ${keys.length === 0
          ? html`<${Empty}>No key blocked.<//>`
          : html`
          <${TableRegion} label=${`Blocked keys of ${observer.name}`}>
            <table class="stack">
              <thead><tr>
                <th scope="col">Entity</th><th scope="col">Blocked since</th><th scope="col">Parked events</th>
                <th scope="col">Blocking event</th><th scope="col">Attempts</th><th scope="col">Next retry</th><th scope="col">Dead letter</th>
              </tr></thead>
              <tbody>
                ${keys.map((k) => html`
                  <tr key=${`${k.entity_type}/${k.entity_id}`}>
                    <th scope="row">${k.entity_type} ${k.entity_id}</th>
                    <td data-label="Blocked since">${time(k.blocked_since)}</td>
                    <td data-label="Parked events">${k.parked_count}</td>
                    <td data-label="Blocking event">${k.blocking?.change_log_id ? `#${k.blocking.change_log_id}` : '—'}</td>
                    <td data-label="Attempts">${k.blocking?.attempts ?? '—'}</td>
                    <td data-label="Next retry">${time(k.blocking?.next_retry_at)}</td>
                    <td data-label="Dead letter">${k.blocking?.dead_letter_id ? html`<a href="#/dead-letters">${k.blocking.dead_letter_id.slice(0, 8)}</a>` : '—'}</td>
                  </tr>`)}
              </tbody>
            </table>
          <//>`}
      </section>`)}`
}
