// The standalone server (server.ts) with a broken setting: one line on stderr naming the cause and
// the fix, exit code 1, no stack trace. Each case runs the real server in a process of its own.
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'
import t from 'tap'
import { closedPort } from './helpers/ports.js'
import { getDatabaseUrl, uniqueSchema } from './helpers/pg.js'

const server = fileURLToPath(new URL('../server.ts', import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

interface Outcome { code: number | null, stdout: string, stderr: string }

/** Runs the server in `cwd` with only the given settings (none of this process's own). */
async function startServer (cwd: string, settings: Record<string, string>): Promise<Outcome> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) =>
    !/^(DATABASE_URL|PORT|HOST|LOG_LEVEL|OBSERVERS_.*|EMBEDDED_PG_.*)$/.test(name)))
  // no coverage from the server: it loads the plugin's sources through tsx, whose compiled form
  // tap cannot merge with its own (the whole suite's report came out wrong, or not at all)
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
  const child = spawn(process.execPath, ['--import', tsx, server], {
    cwd,
    env: { ...env, OBSERVERS_ADMIN_TOKEN: 'server-start-test-token', ...settings },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  // bounded: a server that started instead of failing is stopped after a minute
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = await once(child, 'exit') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

const url = await getDatabaseUrl()
const admin = new pg.Pool({ connectionString: url, max: 1 })
const work = await mkdtemp(join(tmpdir(), 'fastify-observers-start-'))
const schema = uniqueSchema('start')
const taken = createServer().listen(0, '127.0.0.1')
await once(taken, 'listening')
const takenPort = (taken.address() as { port: number }).port
t.teardown(async () => {
  taken.close()
  await admin.query(`drop schema if exists "${schema}" cascade`)
  await admin.end()
  await rm(work, { recursive: true, force: true })
})

const folder = async (name: string): Promise<string> => {
  const dir = join(work, name)
  await mkdir(dir)
  return dir
}
const otherVersion = await folder('other-version')
await mkdir(join(otherVersion, '.data'))
await writeFile(join(otherVersion, '.data', 'PG_VERSION'), '16\n')
const noBinaries = await folder('no-binaries')
const wrongPassword = new URL(url)
wrongPassword.password = 'not-the-password'
const missingDatabase = new URL(url)
missingDatabase.pathname = '/no_such_database'

const cases: Array<[string, string, Record<string, string>, RegExp]> = [
  ['the port is in use', work, { DATABASE_URL: url, OBSERVERS_SCHEMA: schema, PORT: String(takenPort) },
    new RegExp(`^port ${takenPort} on 127\\.0\\.0\\.1 is already in use: stop the process using it, or set PORT to a free port$`)],
  ['the data folder is from another PostgreSQL version', otherVersion, { PORT: '0' },
    /holds a PostgreSQL 16 database, but the embedded server is PostgreSQL 15: move .*\.data aside \(or delete it\) to start afresh, or set DATABASE_URL/],
  ['a PostgreSQL binary is missing', noBinaries, { PORT: '0', EMBEDDED_PG_BIN: noBinaries },
    /^EMBEDDED_PG_BIN=.* holds no postgres: point it at a PostgreSQL bin folder \(with initdb and postgres\), or unset it$/],
  ['DATABASE_URL is not a URL', work, { DATABASE_URL: 'localhost:5432', PORT: '0' },
    /^DATABASE_URL is not a PostgreSQL URL: set it to postgres:\/\/user:password@host:5432\/database/],
  ['DATABASE_URL has a wrong password', work, { DATABASE_URL: wrongPassword.href, PORT: '0' },
    /^PostgreSQL refused the password of user "postgres": fix the user or password in DATABASE_URL$/],
  ['DATABASE_URL names a missing database', work, { DATABASE_URL: missingDatabase.href, PORT: '0' },
    /^database "no_such_database" does not exist on 127\.0\.0\.1:\d+: create it \(createdb no_such_database\), or fix DATABASE_URL$/],
  ['an option variable has a wrong value', work, { PORT: '0', OBSERVERS_RUNTIME_CONCURRENCY: '0' },
    /^OBSERVERS_RUNTIME_CONCURRENCY=0 is refused: 'runtime\.concurrency': must be >= 1: fix or unset OBSERVERS_RUNTIME_CONCURRENCY$/],
  ['the OBSERVERS_CONFIG file is missing', work, { PORT: '0', OBSERVERS_CONFIG: join(work, 'missing.json') },
    /^OBSERVERS_CONFIG=.*missing\.json does not exist: create it, or fix or unset OBSERVERS_CONFIG$/],
  ['the database refuses the connection', work, { DATABASE_URL: `postgres://postgres:x@127.0.0.1:${await closedPort()}/postgres`, PORT: '0' },
    /^the database at 127\.0\.0\.1:\d+ refused the connection \(nothing listens there\): start PostgreSQL there, or fix DATABASE_URL$/]
]

// in parallel: each waits mostly on module loading and the database
const outcomes = await Promise.all(cases.map(async ([, cwd, settings]) => await startServer(cwd, settings)))

cases.forEach(([name, , , line], i) => {
  t.test(`start fails in one line when ${name}`, async (t) => {
    const { code, stdout, stderr } = outcomes[i]
    t.equal(code, 1, 'exit code 1')
    const lines = stderr.trim().split('\n')
    t.equal(lines.length, 1, `one line on stderr: ${stderr}`)
    const prefix = 'fastify-observers could not start: '
    t.ok(lines[0].startsWith(prefix), lines[0])
    t.match(lines[0].slice(prefix.length), line)
    t.notMatch(stdout + stderr, /\n\s+at /, 'no stack trace')
    t.notMatch(stdout, /"stack"/, 'no stack in the log')
  })
})
