// Top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`), self time by package, and
// the project's own functions by inclusive time (their synchronous work and all it calls).
//   npx tsx bench/profile-summary.ts [file.cpuprofile] [--top 15] [--json]
// Without a file it reads the newest profile in bench/profiles/ (see bench/profiler.ts).
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ROOT } from './root.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface SelfTime { name: string, where: string, ms: number, percent_busy: number }

export interface ProfileSummary {
  file: string
  total_ms: number
  idle_ms: number
  busy_ms: number
  top: SelfTime[]
  by_area: Array<{ area: string, ms: number, percent_busy: number }>
  /** functions of lib/, routes/ and index.ts by inclusive time (synchronous stacks only) */
  project_inclusive: SelfTime[]
}

export const PROFILE_DIR = join(ROOT, 'bench', 'profiles') + '/'

// the compiled bench runs from a temporary build folder: name its files as the sources
const BUILD = /^.*\/fastify-observers-bench-build-[^/]+\//

export function projectPath (url: string): string {
  if (!url.startsWith('file://') && !url.startsWith('/')) return url
  const path = url.startsWith('/') ? url : fileURLToPath(url)
  return BUILD.test(path) ? path.replace(BUILD, '') : relative(ROOT, path)
}

function where (url: string, line: number): string {
  if (url === '') return ''
  const path = projectPath(url)
  // positions in files tsx compiled on the fly are not the source's: name the file only
  return path.endsWith('.ts') ? path : `${path}:${line + 1}`
}

const isProject = (path: string): boolean => /^(lib|routes)\/|^index\.[jt]s/.test(path)

/** Which package or part of the project a frame belongs to. */
function area (node: ProfileNode): string {
  const { functionName, url } = node.callFrame
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  if (url.startsWith('node:')) return 'node core'
  const path = projectPath(url)
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (pkg !== null) return pkg[1]
  const dir = path.split('/').slice(0, 2).join('/')
  return /\.[jt]s$/.test(dir) ? dir : `${dir}/`
}

const round = (n: number): number => Math.round(n * 10) / 10

export async function summarizeProfile (file: string, top = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  // timeDeltas[i] is the gap before sample i: the time until the next sample belongs to sample i
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + ms)
  }
  const functions = new Map<string, SelfTime>()
  const areas = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, ms] of self) {
    const node = byId.get(id)
    if (node === undefined) continue
    total += ms
    if (node.callFrame.functionName === '(idle)') {
      idle += ms
      continue
    }
    const name = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName
    const at = where(node.callFrame.url, node.callFrame.lineNumber)
    const key = `${name} ${at}`
    const entry = functions.get(key) ?? { name, where: at, ms: 0, percent_busy: 0 }
    entry.ms += ms
    functions.set(key, entry)
    const a = area(node)
    areas.set(a, (areas.get(a) ?? 0) + ms)
  }
  // inclusive: each sample counts once for every distinct project function on its stack
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const inclusive = new Map<string, SelfTime>()
  for (const [id, ms] of self) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)
      if (node === undefined) break
      const path = where(node.callFrame.url, node.callFrame.lineNumber)
      if (!isProject(path)) continue
      const name = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName
      const key = `${name} ${path}`
      if (seen.has(key)) continue
      seen.add(key)
      const entry = inclusive.get(key) ?? { name, where: path, ms: 0, percent_busy: 0 }
      entry.ms += ms
      inclusive.set(key, entry)
    }
  }
  const busy = total - idle
  const pct = (ms: number): number => busy === 0 ? 0 : round(100 * ms / busy)
  return {
    file,
    total_ms: Math.round(total),
    idle_ms: Math.round(idle),
    busy_ms: Math.round(busy),
    top: [...functions.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((f) => ({ ...f, ms: round(f.ms), percent_busy: pct(f.ms) })),
    by_area: [...areas].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ area: name, ms: round(ms), percent_busy: pct(ms) })),
    project_inclusive: [...inclusive.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((f) => ({ ...f, ms: round(f.ms), percent_busy: pct(f.ms) }))
  }
}

export function formatSummary (s: ProfileSummary): string {
  const lines = [`${s.file}: ${s.total_ms} ms sampled, ${s.idle_ms} ms idle, ${s.busy_ms} ms busy`, '', 'self ms   % busy  function  (where)']
  for (const f of s.top) lines.push(`${String(f.ms).padStart(8)}  ${String(f.percent_busy).padStart(6)}  ${f.name}  ${f.where}`)
  lines.push('', 'self ms   % busy  by package / area')
  for (const a of s.by_area) lines.push(`${String(a.ms).padStart(8)}  ${String(a.percent_busy).padStart(6)}  ${a.area}`)
  lines.push('', 'incl. ms  % busy  project function, with everything it calls synchronously')
  for (const f of s.project_inclusive) lines.push(`${String(f.ms).padStart(8)}  ${String(f.percent_busy).padStart(6)}  ${f.name}  ${f.where}`)
  return lines.join('\n')
}

// `node --cpu-prof` writes CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, thread 0 being the
// main thread (Node 20 also profiles the thread running the module loader hooks, tsx's: skipped)
const LOADER_THREAD = /^CPU\.\d+\.\d+\.\d+\.[1-9]\d*\.\d+\.cpuprofile$/

/** The newest profile in `dir` (bench --cpu-prof's, or a main thread's from node --cpu-prof). */
export async function newestProfile (dir = PROFILE_DIR): Promise<string | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => n.endsWith('.cpuprofile') && !LOADER_THREAD.test(n))
  let newest: { file: string, at: number } | undefined
  for (const name of names) {
    const file = join(dir, name)
    const at = (await stat(file)).mtimeMs
    if (newest === undefined || at > newest.at) newest = { file, at }
  }
  return newest?.file
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 15
  const file = args.find((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1)) ?? await newestProfile()
  if (file === undefined) {
    process.stderr.write('usage: npx tsx bench/profile-summary.ts [file.cpuprofile] [--top 15] (no profile found in bench/profiles/)\n')
    process.exit(2)
  }
  const summary = await summarizeProfile(file, top)
  process.stdout.write((args.includes('--json') ? JSON.stringify(summary, null, 2) : formatSummary(summary)) + '\n')
}
