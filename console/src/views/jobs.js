// Jobs (replay, redrive, backfill: SPEC 9.4): their progress, Pause / Resume and Cancel, once the
// server has the jobs API (the session says); until then the view says so.
import { useState } from 'preact/hooks'
import { api } from '../api.js'
import { Empty, ErrorNote, Status, TableRegion, time } from '../components.js'
import { useConfirm, usePoll } from '../hooks.js'
import { html } from '../html.js'

const ACTIVE = new Set(['queued', 'running', 'paused'])

export function Jobs ({ canAct, session }) {
  if (!session.jobs) return html`<${Empty}>Jobs arrive with replay and backfill: this server has no jobs API yet.<//>`
  return html`<${JobList} canAct=${canAct} />`
}

function JobList ({ canAct }) {
  const list = usePoll(async () => ({ jobs: (await api('GET', '/jobs')).data }), 3000)
  const [dialog, ask] = useConfirm()
  const [message, setMessage] = useState(null)
  const [error, setError] = useState(null)
  const cancel = async (job) => {
    if (!await ask(`Cancel the ${job.kind} job ${job.id}?`, 'Cancel the job')) return
    try { await api('DELETE', `/jobs/${job.id}`); setMessage('Cancelled.') } catch (err) { setError(err) }
    await list.reload()
  }
  const move = async (job, action) => {
    try { await api('POST', `/jobs/${job.id}/${action}`); setMessage(action === 'pause' ? 'Paused.' : 'Resumed.') } catch (err) { setError(err) }
    await list.reload()
  }
  const jobs = list.data?.jobs ?? []
  return html`
    ${dialog}
    <${Status} message=${message} />
    <${ErrorNote} error=${error ?? list.error} />
    ${list.data !== undefined && jobs.length === 0
      ? html`<${Empty}>No job.<//>`
      : html`
      <${TableRegion} label="Jobs">
        <table class="stack">
          <thead><tr><th scope="col">Job</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Created</th><th scope="col">Error</th>
            ${canAct && html`<th scope="col"><span class="visually-hidden">Operations</span></th>`}</tr></thead>
          <tbody>
            ${jobs.map((j) => html`
              <tr key=${j.id}>
                <th scope="row">${j.kind} <span class="sub">${j.id.slice(0, 8)}</span></th>
                <td data-label="Status">${j.status}</td>
                <td data-label="Progress"><progress max=${j.total || 1} value=${j.done} aria-label=${`Progress of job ${j.id.slice(0, 8)}`}></progress> ${j.done}/${j.total ?? '?'}${j.failed ? `, ${j.failed} failed` : ''}${j.rate ? `, ${j.rate}/s` : ''}</td>
                <td data-label="Created">${time(j.created_at)}</td>
                <td data-label="Error">${j.error ?? ''}</td>
                ${canAct && html`<td class="row-buttons">
                  ${(j.status === 'queued' || j.status === 'running') && html`<button type="button" onClick=${() => move(j, 'pause')}>Pause</button>`}
                  ${j.status === 'paused' && html`<button type="button" onClick=${() => move(j, 'resume')}>Resume</button>`}
                  ${ACTIVE.has(j.status) && html`<button type="button" onClick=${() => cancel(j)}>Cancel</button>`}</td>`}
              </tr>`)}
          </tbody>
        </table>
      <//>`}`
}
