// Overview: the runtime's health and two charts over the last 15 minutes, refreshed every few seconds.
import { useMemo } from 'preact/hooks'
import { api } from '../api.js'
import { TimeChart } from '../chart.js'
import { ErrorNote } from '../components.js'
import { usePoll } from '../hooks.js'
import { html } from '../html.js'

const REFRESH_MS = 3000

function Figure ({ label, value }) {
  return html`<div class="figure"><dt>${label}</dt><dd>${value}</dd></div>`
}

export function Overview () {
  // health answers 503 when the runtime is stopped, with the same body
  const health = usePoll(async () => await api('GET', '/runtime/health'), REFRESH_MS)
  const series = usePoll(async () => await api('GET', '/runtime/throughput?seconds=900'), REFRESH_MS)
  const t = series.data
  const charts = useMemo(() => {
    if (t === undefined) return null
    const times = t.delivered.map((_, i) => t.start + i)
    return {
      times,
      lag: [{ label: 'Events behind', values: t.lag_events }],
      rate: [{ label: 'Delivered', values: t.delivered }, { label: 'Failed', values: t.failed }]
    }
  }, [t])
  const h = health.data
  return html`
    <section aria-labelledby="health-title">
      <h2 id="health-title">Runtime</h2>
      <${ErrorNote} error=${health.error} />
      ${h !== undefined && html`
        <dl class="figures">
          <${Figure} label="Status" value=${h.status} />
          <${Figure} label="Events behind" value=${h.lag_events} />
          <${Figure} label="Lag (seconds)" value=${h.lag_seconds} />
          <${Figure} label="Observers loaded" value=${h.observer_count} />
          <${Figure} label="Retries pending" value=${h.retries_pending} />
          <${Figure} label="Dead letters" value=${h.dead_letters} />
          <${Figure} label="Blocked keys" value=${h.blocked_keys} />
          <${Figure} label="Errors" value=${h.errors} />
        </dl>
        ${h.last_error !== null && html`<p class="error">Last error: ${h.last_error}</p>`}`}
    </section>
    <section aria-labelledby="charts-title">
      <h2 id="charts-title">Last 15 minutes</h2>
      <${ErrorNote} error=${series.error} />
      ${charts !== null && html`
        <div class="charts">
          <${TimeChart} id="rate" title="Deliveries per second" unit="per second" times=${charts.times} series=${charts.rate} average=${10} />
          <${TimeChart} id="lag" title="Lag (events behind)" unit="events" times=${charts.times} series=${charts.lag} />
        </div>
        <p class="help">Counted by ${t.instances} instance${t.instances === 1 ? '' : 's'}; refreshed every ${REFRESH_MS / 1000} s.</p>`}
    </section>`
}
