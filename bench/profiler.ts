// `--cpu-prof`: a V8 CPU profile of this process over a scenario's measured window only (the
// runtime at work, not the bulk inserts before it), written to bench/profiles/ and summarised.
// `--heap-prof`: V8's sampling heap profiler over the same window: where the bytes were allocated
// (allocation sites by size sampled, garbage included: what drives GC time and peak RSS).
// For a profile of the whole process run `node --cpu-prof --import tsx bench/run.ts backlog`.
import { Session } from 'node:inspector/promises'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatSummary, PROFILE_DIR, projectPath, summarizeProfile, type SelfTime } from './profile-summary.js'

export interface ProfileReport {
  file: string
  busy_ms: number
  idle_ms: number
  top: SelfTime[]
  /** with --heap-prof: allocation sites by sampled bytes */
  allocations?: Array<{ name: string, where: string, mb: number, percent: number }>
}

export interface Profiling { stop: () => Promise<ProfileReport | undefined> }

export interface ProfileOptions { cpu: boolean, heap: boolean }

interface HeapNode {
  callFrame: { functionName: string, url: string, lineNumber: number }
  selfSize: number
  children: HeapNode[]
}

function allocationSites (head: HeapNode, top: number): NonNullable<ProfileReport['allocations']> {
  const sites = new Map<string, { name: string, where: string, bytes: number }>()
  let total = 0
  const walk = (node: HeapNode): void => {
    const name = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName
    const path = projectPath(node.callFrame.url)
    const where = path === '' ? '' : path.endsWith('.ts') ? path : `${path}:${node.callFrame.lineNumber + 1}`
    const key = `${name} ${where}`
    const site = sites.get(key) ?? { name, where, bytes: 0 }
    site.bytes += node.selfSize
    total += node.selfSize
    sites.set(key, site)
    for (const child of node.children) walk(child)
  }
  walk(head)
  return [...sites.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top).map((s) => ({
    name: s.name, where: s.where, mb: Math.round(s.bytes / 104857.6) / 10, percent: Math.round(1000 * s.bytes / total) / 10
  }))
}

export async function startProfile (options: ProfileOptions, name: string, progress: (m: string) => void): Promise<Profiling> {
  if (!options.cpu && !options.heap) return { stop: async () => undefined }
  const session = new Session()
  session.connect()
  if (options.cpu) {
    await session.post('Profiler.enable')
    // the --cpu-prof default: one sample per millisecond
    await session.post('Profiler.setSamplingInterval', { interval: 1000 })
    await session.post('Profiler.start')
  }
  if (options.heap) {
    await session.post('HeapProfiler.enable')
    // garbage included: what was allocated, not what survived (the flags need V8 ≥ 11)
    await session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object)
  }
  return {
    stop: async () => {
      await mkdir(PROFILE_DIR, { recursive: true })
      const stamp = `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`
      let report: ProfileReport = { file: '', busy_ms: 0, idle_ms: 0, top: [] }
      if (options.cpu) {
        const { profile } = await session.post('Profiler.stop')
        const file = join(PROFILE_DIR, `${stamp}.cpuprofile`)
        await writeFile(file, JSON.stringify(profile))
        const summary = await summarizeProfile(file, 15)
        progress(`${name}: CPU profile of the measured window\n${formatSummary(summary)}`)
        report = { file: summary.file, busy_ms: summary.busy_ms, idle_ms: summary.idle_ms, top: summary.top }
      }
      if (options.heap) {
        const { profile } = await session.post('HeapProfiler.stopSampling')
        await writeFile(join(PROFILE_DIR, `${stamp}.heapprofile`), JSON.stringify(profile))
        report.allocations = allocationSites(profile.head as unknown as HeapNode, 20)
        progress(`${name}: allocation sites (sampled bytes, garbage included)\n` +
          report.allocations.map((a) => `${String(a.mb).padStart(8)} MB ${String(a.percent).padStart(5)} %  ${a.name}  ${a.where}`).join('\n'))
      }
      session.disconnect()
      return report
    }
  }
}
