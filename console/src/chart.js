// A uPlot time-series chart sized to its container, with its numbers also given as text: the
// latest and the peak value, and a table of the last non-empty seconds for screen readers.
import UPlot from 'uplot'
import { useEffect, useRef } from 'preact/hooks'
import { html } from './html.js'

const COLOURS = ['#1a56db', '#c81e1e']

export function TimeChart ({ id, title, unit, times, series, average = 0 }) {
  const box = useRef(null)
  const plot = useRef(null)
  useEffect(() => {
    const element = box.current
    const width = () => Math.max(240, element.clientWidth)
    const options = {
      width: width(),
      height: 200,
      scales: { x: { time: true } },
      axes: [{}, { size: 60 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true }))]
    }
    plot.current = new UPlot(options, [times, ...series.map((s) => s.values)], element)
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 200 }))
    resize.observe(element)
    return () => { resize.disconnect(); plot.current?.destroy(); plot.current = null }
  }, [series.length])
  useEffect(() => { plot.current?.setData([times, ...series.map((s) => s.values)]) }, [times, series])

  const main = series[0].values
  let latest = null
  if (average > 0) {
    // a rate reads better averaged over a few seconds than as the last second's count
    const last = main.slice(-average)
    latest = Math.round(last.reduce((sum, v) => sum + (v ?? 0), 0) / last.length * 10) / 10
  } else {
    for (let i = main.length - 1; i >= 0 && latest === null; i--) latest = main[i]
  }
  const peak = main.reduce((m, v) => (v !== null && v > m ? v : m), 0)
  const recent = []
  for (let i = times.length - 1; i >= 0 && recent.length < 30; i--) {
    if (series.some((s) => s.values[i] !== null && s.values[i] !== 0)) recent.push(i)
  }
  return html`
    <figure class="chart" aria-labelledby=${`${id}-title`}>
      <figcaption id=${`${id}-title`}>${title}</figcaption>
      <div ref=${box} class="plot" aria-hidden="true"></div>
      <p class="summary" id=${`${id}-summary`}>${average > 0 ? `Last ${average} s` : 'Latest'}: <strong>${latest ?? '—'}</strong> ${unit}; peak over 15 minutes: <strong>${peak}</strong> ${unit}</p>
      <details>
        <summary>${title}: the data</summary>
        ${recent.length === 0
          ? html`<p>Nothing in the last 15 minutes.</p>`
          : html`<table aria-label=${`${title}: the data`}>
              <thead><tr><th scope="col">Time</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
              <tbody>${recent.map((i) => html`<tr><td>${new Date(times[i] * 1000).toLocaleTimeString()}</td>${series.map((s) => html`<td>${s.values[i] ?? '—'}</td>`)}</tr>`)}</tbody>
            </table>`}
      </details>
    </figure>`
}
