// Samples this process's memory every 100 ms while a scenario runs: the runtime under test lives
// in this process, so the peak RSS is the runtime's (plus the bench's own small pg pool). Also
// counts the garbage collections of the window, and measures what is still live after a full
// collection at its end: a peak far above that is garbage V8 had not yet collected.
import { PerformanceObserver, constants } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { mb, round } from './stats.js'

export interface MemoryReport {
  rss_start_mb: number
  rss_peak_mb: number
  /** peak − start: what the work itself added */
  rss_growth_mb: number
  heap_peak_mb: number
  /** after a forced full GC at the end of the window: the live set */
  heap_live_end_mb: number
  rss_end_after_gc_mb: number
  gc: { minor: number, major: number, pause_ms: number }
  samples: number
  /** [seconds since the start, RSS MB] every CURVE_EVERY_S: flat for a long drain means no leak */
  curve: Array<[number, number]>
}

const CURVE_EVERY_S = 5

// a full collection on demand, without starting node with --expose-gc
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/** Fills in the live set: call once the window's CPU has been measured (a full GC costs some). */
export function afterFullGc (report: MemoryReport): MemoryReport {
  collect()
  const end = process.memoryUsage()
  return { ...report, heap_live_end_mb: mb(end.heapUsed), rss_end_after_gc_mb: mb(end.rss) }
}

export function sampleMemory (everyMs = 100): { stop: () => MemoryReport } {
  const start = process.memoryUsage()
  let peakRss = start.rss
  let peakHeap = start.heapUsed
  let samples = 0
  const gc = { minor: 0, major: 0, pause_ms: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = ((entry as unknown as { detail?: { kind?: number } }).detail)?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++
      else gc.minor++
      gc.pause_ms += entry.duration
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  const curve: Array<[number, number]> = [[0, mb(start.rss)]]
  const began = performance.now()
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    samples++
    const seconds = (performance.now() - began) / 1000
    if (seconds >= curve[curve.length - 1][0] + CURVE_EVERY_S) curve.push([Math.round(seconds), mb(m.rss)])
    if (m.rss > peakRss) peakRss = m.rss
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
  }, everyMs)
  timer.unref()
  return {
    stop: () => {
      clearInterval(timer)
      observer.disconnect()
      return {
        rss_start_mb: mb(start.rss),
        rss_peak_mb: mb(peakRss),
        rss_growth_mb: mb(peakRss - start.rss),
        heap_peak_mb: mb(peakHeap),
        heap_live_end_mb: -1,
        rss_end_after_gc_mb: -1,
        gc: { ...gc, pause_ms: round(gc.pause_ms, 1) },
        samples,
        curve
      }
    }
  }
}
