// Endpoints: each destination's circuit, what is in flight and waiting, its rate limit, and a
// Reset that closes the circuit by hand.
import { useState } from 'preact/hooks'
import { api } from '../api.js'
import { Empty, ErrorNote, Status, TableRegion, time } from '../components.js'
import { useConfirm, usePoll } from '../hooks.js'
import { html } from '../html.js'

export function Endpoints ({ canAct }) {
  const list = usePoll(async () => (await api('GET', '/endpoints')).data, 3000)
  const [dialog, ask] = useConfirm()
  const [message, setMessage] = useState(null)
  const [error, setError] = useState(null)
  const reset = async (e) => {
    const disabled = e.state === 'disabled'
    if (!await ask(`Close the circuit of ${e.endpoint}${disabled ? ' and enable again the observers its disabling disabled' : ''}? What waits for it is sent at once.`, 'Reset')) return
    setError(null)
    try {
      const r = await api('POST', '/endpoints/reset', { endpoint: e.endpoint, enable_observers: disabled })
      setMessage(r.closed ? `${r.endpoint}: circuit closed.` : `${r.endpoint} was closed already.`)
    } catch (err) { setError(err) }
    await list.reload()
  }
  const rows = list.data ?? []
  return html`
    ${dialog}
    <${Status} message=${message} />
    <${ErrorNote} error=${error ?? list.error} />
    ${list.data !== undefined && rows.length === 0
      ? html`<${Empty}>No endpoint yet: endpoints appear with the observers' webhook and Slack actions.<//>`
      : html`
      <${TableRegion} label="Endpoints">
        <table class="stack">
          <thead><tr>
            <th scope="col">Endpoint</th><th scope="col">Circuit</th><th scope="col">Failures / attempts (60 s)</th>
            <th scope="col">In flight</th><th scope="col">Waiting</th><th scope="col">Rate limit</th><th scope="col">Next probe</th>
            ${canAct && html`<th scope="col"><span class="visually-hidden">Operations</span></th>`}
          </tr></thead>
          <tbody>
            ${rows.map((e) => html`
              <tr key=${e.endpoint}>
                <th scope="row">${e.endpoint}</th>
                <td data-label="Circuit"><span class=${`pill ${e.state}`}>${e.state.replace('_', '-')}</span></td>
                <td data-label="Failures / attempts">${e.failures_window} / ${e.attempts_window}</td>
                <td data-label="In flight">${e.in_flight}</td>
                <td data-label="Waiting">${e.waiting}</td>
                <td data-label="Rate limit">${e.rate_limit === null ? 'none' : `${e.rate_limit.per_second}/s${e.rate_limit.burst ? `, burst ${e.rate_limit.burst}` : ''}`}</td>
                <td data-label="Next probe">${time(e.next_probe_at)}</td>
                ${canAct && html`<td class="row-buttons">${e.state !== 'closed' && html`<button type="button" onClick=${() => reset(e)}>Reset</button>`}</td>`}
              </tr>`)}
          </tbody>
        </table>
      <//>`}`
}
