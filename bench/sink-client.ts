// The bench's handle on its webhook sink process: start it, reset it per scenario, read what it
// recorded, and measure the offset between its clock and ours.
import { now } from './clock.js'
import { forkChild } from './ipc.js'
import type { SinkConfig, SinkReady, SinkRequestTimes, SinkStats, SinkTimes } from './sink-protocol.js'

export interface ClockOffset {
  /** sink clock minus bench clock, ms */
  offsetMs: number
  /** round trip of the best sample, ms: the offset is known to within half of it */
  rttMs: number
}

export interface Sink {
  url: string
  reset: (config?: Partial<SinkConfig>) => Promise<void>
  stats: () => Promise<SinkStats>
  times: () => Promise<SinkTimes>
  /** every request's arrival (sink clock), when reset with keepRequestTimes */
  requestTimes: () => Promise<SinkRequestTimes>
  clockOffset: () => Promise<ClockOffset>
  rssMb: () => Promise<number>
  /** CPU seconds the sink process has used so far */
  cpuSeconds: () => Promise<number>
  stop: () => Promise<void>
}

export async function startSink (): Promise<Sink> {
  const child = await forkChild<SinkReady>(new URL('./sink.ts', import.meta.url))
  return {
    url: child.ready.url,
    reset: async (config = {}) => {
      await child.call('reset', { failureFraction: 0, failUpTo: 0, keepTimes: false, ...config } satisfies SinkConfig)
    },
    stats: async () => await child.call<SinkStats>('stats'),
    times: async () => await child.call<SinkTimes>('times'),
    requestTimes: async () => await child.call<SinkRequestTimes>('requestTimes'),
    // NTP-style: the sample with the shortest round trip bounds the error best
    clockOffset: async () => {
      let best: ClockOffset = { offsetMs: 0, rttMs: Infinity }
      for (let i = 0; i < 50; i++) {
        const sent = now()
        const theirs = await child.call<number>('clock')
        const back = now()
        if (back - sent < best.rttMs) best = { offsetMs: theirs - (sent + back) / 2, rttMs: back - sent }
      }
      return { offsetMs: round3(best.offsetMs), rttMs: round3(best.rttMs) }
    },
    rssMb: async () => Math.round(await child.call<number>('memory') / 1048576),
    cpuSeconds: async () => await child.call<number>('cpu'),
    stop: async () => { await child.stop() }
  }
}

function round3 (n: number): number {
  return Math.round(n * 1000) / 1000
}
