// A real `nats-server -js` (Debian's package) on a free port with its store in a temp folder, and a
// test-side client to make streams and read what the runtime published. Stopped and removed at teardown.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { jetstreamManager, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream'
import type { Test } from 'tap'
import { closedPort } from './ports.js'
import { guardAgainstLeaks } from './leak-guard.js'

guardAgainstLeaks()

export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  url: string
  port: number
  /** stops the server (SIGTERM, then waits for its exit); its streams stay in the store folder */
  stop: () => Promise<void>
  /** starts it again on the same port and store */
  start: () => Promise<void>
  /** a client connection of the test's own (closed at teardown) */
  client: () => Promise<NatsConnection>
  /** JetStream's API on the test's client */
  manager: () => Promise<JetStreamManager>
  /** every message the stream holds, oldest first */
  messages: (stream: string) => Promise<StoredMsg[]>
}

export interface NatsServerOptions {
  /** lines of server configuration added to `listen` and `jetstream` (authorization, max_payload...) */
  config?: string
}

/** Starts a JetStream server; `config` lines go into its configuration file. */
export async function startNatsServer (t: Test, options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await closedPort()
  const dir = await mkdtemp(join(tmpdir(), 'observers-nats-'))
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, [
    `listen: 127.0.0.1:${port}`,
    `jetstream { store_dir: ${JSON.stringify(join(dir, 'store'))}, max_memory_store: 64MB, max_file_store: 1GB }`,
    options.config ?? ''
  ].join('\n'))
  let child: ChildProcess | undefined
  let client: Promise<NatsConnection> | undefined

  async function start (): Promise<void> {
    const proc = spawn('nats-server', ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    let output = ''
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject)
      proc.once('exit', (code) => { reject(new Error(`nats-server exited with ${code}:\n${output}`)) })
      proc.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Server is ready')) resolve()
      })
    })
    proc.removeAllListeners('exit')
    proc.stderr?.removeAllListeners('data')
    proc.stderr?.resume()
  }

  async function stop (): Promise<void> {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGTERM')
    await exited
  }

  t.teardown(async () => {
    const open = client
    client = undefined
    if (open !== undefined) await (await open).close().catch(() => {})
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  await start()
  const url = `nats://127.0.0.1:${port}`
  const server: NatsServer = {
    url,
    port,
    stop,
    start,
    client: async () => await (client ??= connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 })),
    manager: async () => await jetstreamManager(await server.client()),
    async messages (stream) {
      const jsm = await server.manager()
      const { state } = await jsm.streams.info(stream)
      const out: StoredMsg[] = []
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
        const message = await jsm.streams.getMessage(stream, { seq })
        if (message !== null) out.push(message)
      }
      return out
    }
  }
  return server
}

/** A stream `name` capturing `subjects` (file storage, so it survives a server restart). */
export async function createStream (server: NatsServer, name: string, subjects: string[], extra: Record<string, unknown> = {}): Promise<void> {
  await (await server.manager()).streams.add({ name, subjects, ...extra })
}
