// startup: from launching the standalone server to GET /observers/runtime/health answering 200, in
// a folder of its own. With an existing ./.data through `npm start` (SPEC 9.7: within 1.5 s) and
// through `node scripts/start.js` (npm's own share is the difference); the first start (initdb, with
// fsync); bundling the server (a start after a source changed); and, for comparison, the server
// through tsx, as `npm start` ran it before. Each server is then stopped with SIGTERM, timed too.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchContext } from '../app.js'
import { now } from '../clock.js'
import { measureChildren } from '../cpu.js'
import { loadAverage } from '../machine.js'
import { ROOT } from '../root.js'
import { distribution, round, type Distribution } from '../stats.js'

export interface StartupResult {
  runs: number
  /** ms from spawning `npm start` to health 200, ./.data existing */
  npm_start_ms: Distribution
  /** the same through `node scripts/start.js` */
  node_ms: Distribution
  /** ms from SIGTERM until the server's processes are gone and PostgreSQL has removed its pid file */
  stop_ms: Distribution
  /** the very first start: the bundle ready, initdb with fsync on */
  first_start_ms: number
  /** `node scripts/bundle-server.js`: what a start after a source change adds */
  bundle_ms: number
  /** the sources through tsx (`tsx server.ts`), ./.data existing */
  tsx_ms: Distribution
  /** CPU ms a warm `node scripts/start.js` costs its processes (node and PostgreSQL, from launch to
   * their end): less sensitive to a busy machine than the time. Not for npm start: npm leaves its
   * shell and node to init when it gets SIGTERM, so their CPU is never counted here */
  node_cpu_ms: Distribution
  /** the largest share of the machine other processes used during one of those starts (0 = quiet) */
  interference: number | null
  load_average: { start: number[], end: number[] }
}

const TOKEN = 'bench-startup-token-0123456789'

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

// node:http rather than fetch: fetch's first answered request costs the client tens of ms of its own
async function healthStatus (port: number): Promise<number> {
  return await new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/observers/runtime/health', agent: false }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    }).once('error', () => resolve(0))
  })
}

const gone = (group: number): boolean => {
  try {
    process.kill(-group, 0)
    return false
  } catch {
    return true
  }
}

interface Launch {
  health: number
  stop: number
  /** CPU ms of the processes this one reaped: node and, through it, PostgreSQL */
  cpu: number
  /** share of the machine others used meanwhile */
  other: number | null
}

/** Launches `command` in `cwd` (a process group of its own); resolves to ms until health is 200, then stops it. */
async function launch (cwd: string, command: string[]): Promise<Launch> {
  const port = await freePort()
  const cpu = measureChildren()
  const started = now()
  const child: ChildProcess = spawn(command[0], command.slice(1), {
    cwd,
    detached: true,
    env: { ...process.env, PORT: String(port), OBSERVERS_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', DATABASE_URL: '' },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const group = child.pid as number
  try {
    let health = -1
    while (health < 0) {
      const answer = await healthStatus(port)
      if (answer === 200) health = now() - started
      else if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited with ${child.exitCode}: ${stderr.trim()}`)
      else if (now() - started > 180_000) throw new Error(`${command.join(' ')}: no health 200 within 180 s`)
      else await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const stopping = now()
    process.kill(-group, 'SIGTERM')
    // the embedded PostgreSQL runs in a process group of its own: its pid file going is its end
    while (!gone(group) || existsSync(join(cwd, '.data', 'postmaster.pid'))) {
      if (now() - stopping > 30_000) throw new Error(`${command.join(' ')} did not stop within 30 s`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    // reaped: the child's CPU (and that of the processes it waited for) is counted now
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve))
    const used = cpu.stop()
    const other = used.other_s === null || used.machine_capacity_s === null || used.machine_capacity_s === 0 ? null : round(used.other_s / used.machine_capacity_s, 3)
    return { health: round(health, 1), stop: round(now() - stopping, 1), cpu: round(used.children_s * 1000), other }
  } finally {
    if (!gone(group)) process.kill(-group, 'SIGKILL')
  }
}

export async function startup (ctx: BenchContext): Promise<StartupResult> {
  const runs = ctx.quick ? 2 : 5
  const loadStart = loadAverage()
  // readable by others: as root the embedded PostgreSQL (user postgres) keeps ./.data in place
  const dir = await mkdtemp(join(tmpdir(), 'fastify-observers-bench-startup-'))
  await chmod(dir, 0o755)
  try {
    // `npm start` in this folder, so its ./.data is this folder's
    await writeFile(join(dir, 'package.json'), JSON.stringify({ private: true, scripts: { start: `node ${JSON.stringify(join(ROOT, 'scripts', 'start.js'))}` } }))
    const bundling = now()
    const bundled = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle-server.js')], { encoding: 'utf8' })
    if (bundled.status !== 0) throw new Error(`bundling the server failed: ${bundled.stderr}`)
    const bundleMs = round(now() - bundling, 1)
    ctx.progress(`startup: bundled in ${bundleMs} ms; first start (initdb)`)
    const first = await launch(dir, [process.execPath, join(ROOT, 'scripts', 'start.js')])
    const npm: Launch[] = []
    const node: Launch[] = []
    for (let i = 0; i < runs; i++) {
      npm.push(await launch(dir, ['npm', 'start']))
      node.push(await launch(dir, [process.execPath, join(ROOT, 'scripts', 'start.js')]))
    }
    const tsx: number[] = []
    for (let i = 0; i < Math.min(runs, 2); i++) tsx.push((await launch(dir, [join(ROOT, 'node_modules', '.bin', 'tsx'), join(ROOT, 'server.ts')])).health)
    const others = node.map((l) => l.other).filter((o): o is number => o !== null)
    const health = (launches: Launch[]): string => launches.map((l) => l.health).join(', ')
    ctx.progress(`startup: health after npm start ${health(npm)} ms; node ${health(node)} ms; first ${first.health} ms; tsx ${tsx.join(', ')} ms`)
    return {
      runs,
      npm_start_ms: distribution(npm.map((l) => l.health)),
      node_ms: distribution(node.map((l) => l.health)),
      stop_ms: distribution([first, ...npm, ...node].map((l) => l.stop)),
      first_start_ms: first.health,
      bundle_ms: bundleMs,
      tsx_ms: distribution(tsx),
      node_cpu_ms: distribution(node.map((l) => l.cpu)),
      interference: others.length === 0 ? null : round(Math.max(...others), 3),
      load_average: { start: loadStart, end: loadAverage() }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
