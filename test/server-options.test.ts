// The standalone server (server.ts, in a process of its own) takes the plugin's options from
// OBSERVERS_* variables and an OBSERVERS_CONFIG file: what an operator of `npm start` sets is what
// the runtime does. (A wrong value or a missing file: test/server-start.test.ts.)
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'
import t, { type Test } from 'tap'
import { eventually } from './helper.js'
import { startHttpTarget } from './helpers/http-target.js'
import { getDatabaseUrl, uniqueSchema } from './helpers/pg.js'
import { insertChanges } from './helpers/rows.js'

const server = fileURLToPath(new URL('../server.ts', import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const TOKEN = 'server-options-test-token'

interface Running { origin: string, schema: string, call: (method: string, path: string, body?: unknown) => Promise<any> }

/** Starts the server on a fresh schema of the test database with `settings`; stopped at teardown. */
async function startServer (t: Test, pool: pg.Pool, settings: Record<string, string>): Promise<Running> {
  const schema = uniqueSchema('srvopt')
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(PORT|HOST|LOG_LEVEL|OBSERVERS_.*|EMBEDDED_PG_.*)$/.test(name)))
  // no coverage from the server (see test/server-start.test.ts)
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, server], {
    env: { ...env, DATABASE_URL: await getDatabaseUrl(), PORT: '0', OBSERVERS_SCHEMA: schema, OBSERVERS_ADMIN_TOKEN: TOKEN, OBSERVERS_ALLOW_PRIVATE_NETWORKS: 'true', ...settings },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    await pool.query(`drop schema if exists "${schema}" cascade`)
  })
  const origin = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${stderr}`)))
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const address = /admin API at (http:\/\/[^/\s]+)\/observers/.exec(stdout)
      if (address !== null) resolve(address[1])
    })
  })
  const call = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${origin}/observers${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    return res.status === 204 ? undefined : await res.json()
  }
  return { origin, schema, call }
}

const url = await getDatabaseUrl()
const pool = new pg.Pool({ connectionString: url, max: 2 })
t.teardown(async () => await pool.end())

t.test('OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS=2000: the circuit opens against a failing endpoint and probes on that schedule', async (t) => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(503).end() })
  const { schema, call } = await startServer(t, pool, { OBSERVERS_RUNTIME_CIRCUIT_BREAKER_COOL_DOWN_MS: '2000' })
  const observer = await call('POST', '', { name: 'to a failing endpoint', actions: [{ type: 'webhook', url: `${target.url}/hook` }], retry_config: { max_attempts: 1 } })
  t.ok(observer.id, 'created')
  await insertChanges(pool, schema, 12)
  const endpoint = `${target.url}`
  const opened = await eventually(async () => {
    const { data } = await call('GET', '/endpoints')
    const found = data.find((e: any) => e.endpoint === endpoint)
    return found?.state === 'open' ? found : undefined
  }, 20_000, 'the circuit to open')
  t.equal(Date.parse(opened.next_probe_at) - Date.parse(opened.opened_at), 2000, 'the first probe is due 2 s after the circuit opened (the default: 30 s)')
  const attemptsWhenOpened = target.received.length
  t.ok(attemptsWhenOpened >= 10, `it opened after ${attemptsWhenOpened} failed attempts`)

  // what comes while it is open waits for the probe, which goes out and fails: the cool-down doubles
  await insertChanges(pool, schema, 2)
  await target.waitFor(attemptsWhenOpened + 1, 15_000)
  const reopened = await eventually(async () => {
    const { rows: [row] } = await pool.query(`select state, cool_down_ms from "${schema}".tb_observer_endpoint where endpoint = $1`, [endpoint])
    return row?.state === 'open' && row.cool_down_ms === 4000 ? row : undefined
  }, 10_000, 'the failed probe to reopen the circuit for 4 s')
  t.match(reopened, { state: 'open', cool_down_ms: 4000 })
})

t.test('OBSERVERS_CONFIG: a JSON file sets the concurrency', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'observers-config-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'observers.json')
  await writeFile(file, JSON.stringify({ runtime: { concurrency: 2, batchSize: 50 } }))
  // a slow endpoint: each answer takes a second, so what the runtime allows at once is in flight together
  let inFlight = 0
  let most = 0
  const target = await startHttpTarget(t, (_req, res) => {
    most = Math.max(most, ++inFlight)
    const answer = setTimeout(() => { inFlight--; res.writeHead(200).end() }, 1000)
    res.on('close', () => clearTimeout(answer))
  })
  const { schema, call } = await startServer(t, pool, { OBSERVERS_CONFIG: file })
  await call('POST', '', { name: 'slow endpoint', actions: [{ type: 'webhook', url: `${target.url}/hook` }] })
  await insertChanges(pool, schema, 6)
  await eventually(() => new Set(target.received.map((r) => r.json?.entity_id)).size === 6 || undefined, 30_000, 'every event delivered')
  t.equal(most, 2, 'two attempts in flight at most, as the file says (the default would send all six at once)')
})
