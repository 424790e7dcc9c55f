// Deliveries per second and lag over the last 15 minutes, for the console's overview. Once a
// second the action counters the executor already keeps (metrics) are read into a ring, so the
// hot path does nothing more; every few seconds the lag is measured and the new seconds are
// written to the database, where any instance reads the others' to answer for all of them.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { readSamples, saveSamples } from '../db/throughput.repo.js'
import type { RuntimeContext } from './context.js'
import { refreshGauges } from './health.js'
import { SecondRing, type SecondSample } from './primitives/second-ring.js'
import type { ChangeLogReader } from './read-path/reading.js'

/** Seconds kept and shown: the overview's 15 minutes. */
export const THROUGHPUT_WINDOW_S = 900
const SAMPLE_MS = 1000
const WRITE_EVERY_S = 5

export interface ThroughputView {
  /** the first second of the series (Unix seconds); entry i is second start + i */
  start: number
  delivered: number[]
  failed: number[]
  lag_events: Array<number | null>
  lag_seconds: Array<number | null>
  /** instances whose seconds are in the series */
  instances: number
}

export class Throughput {
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  readonly ring = new SecondRing(THROUGHPUT_WINDOW_S)
  private totals: { delivered: number, failed: number } | undefined
  private writtenThrough = 0

  constructor (readonly ctx: RuntimeContext) {}

  /** Adds what the action counters gained since the last call to the current second. */
  async sample (now = Date.now()): Promise<void> {
    let delivered = 0
    let failed = 0
    for (const { value, labels } of (await this.ctx.metrics.actions.get()).values) {
      if (labels.outcome === 'success') delivered += value
      else if (labels.outcome !== 'cancelled') failed += value
    }
    const before = this.totals
    this.totals = { delivered, failed }
    // the first reading only sets the baseline: counts from before it are not this second's
    if (before !== undefined) this.ring.add(Math.floor(now / 1000), delivered - before.delivered, failed - before.failed)
  }

  /** Measures the lag (the health statement) into the current second. */
  async sampleLag (reader: ChangeLogReader | undefined, now = Date.now()): Promise<void> {
    const gauges = await refreshGauges(this.ctx, reader, now)
    this.ring.setLag(Math.floor(now / 1000), gauges.lagEvents, Math.round(gauges.lagSeconds * 1000) / 1000)
  }

  /** Writes the seconds completed since the last write. */
  async write (now = Date.now()): Promise<void> {
    const current = Math.floor(now / 1000)
    const from = Math.max(this.writtenThrough + 1, current - THROUGHPUT_WINDOW_S + 1)
    await saveSamples(this.ctx.db, this.instanceId, this.ring.between(from, current - 1), current - THROUGHPUT_WINDOW_S)
    this.writtenThrough = current - 1
  }

  /** The last `seconds` seconds, this instance's from memory and the others' from the database. */
  async view (seconds: number, now = Date.now()): Promise<ThroughputView> {
    const to = Math.floor(now / 1000)
    const start = to - seconds + 1
    const others = await readSamples(this.ctx.db, start, to, this.instanceId)
    const own = this.ring.between(start, to)
    const view: ThroughputView = {
      start,
      delivered: new Array<number>(seconds).fill(0),
      failed: new Array<number>(seconds).fill(0),
      lag_events: new Array<number | null>(seconds).fill(null),
      lag_seconds: new Array<number | null>(seconds).fill(null),
      instances: others.instances + (own.length > 0 ? 1 : 0)
    }
    const merge = (s: SecondSample): void => {
      const i = s.second - start
      view.delivered[i] += s.delivered
      view.failed[i] += s.failed
      if (s.lagEvents !== null) view.lag_events[i] = Math.max(view.lag_events[i] ?? 0, s.lagEvents)
      if (s.lagSeconds !== null) view.lag_seconds[i] = Math.max(view.lag_seconds[i] ?? 0, s.lagSeconds)
    }
    for (const s of others.samples) merge(s)
    for (const s of own) merge(s)
    return view
  }
}

/**
 * Until `signal` aborts: a sample each second; the lag and a write every few seconds. The lag is
 * the listener's, the same from every instance: only the one reading the first partition (or the
 * whole stream) measures it, so the database answers one count per listener, not one per instance.
 */
export async function throughputLoop (throughput: Throughput, reader: () => ChangeLogReader | undefined, measuresLag: () => boolean, signal: AbortSignal): Promise<void> {
  const { log } = throughput.ctx
  let tick = 0
  let measured = false
  while (!signal.aborted) {
    try {
      await throughput.sample()
      const measuring = measuresLag()
      // at once when this instance starts measuring, then every few seconds
      if (measuring && (tick % WRITE_EVERY_S === 0 || !measured)) await throughput.sampleLag(reader())
      measured = measuring
      if (tick % WRITE_EVERY_S === 0) await throughput.write()
    } catch (err) {
      // the overview misses a few seconds; delivery is not concerned
      log.warn({ err }, 'throughput: could not record the last seconds')
    }
    tick++
    await sleep(SAMPLE_MS, undefined, { signal, ref: false }).catch(() => {})
  }
}
