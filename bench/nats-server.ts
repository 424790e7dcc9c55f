// A `nats-server -js` (Debian's package) for the `nats` scenario: a free port on 127.0.0.1, its
// store in a temp folder (file storage, fsync as the server does by default), stopped and removed after.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface BenchNatsServer {
  url: string
  pid: number
  stop: () => Promise<void>
}

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export async function startNatsServer (): Promise<BenchNatsServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'fastify-observers-bench-nats-'))
  const config = join(dir, 'nats.conf')
  await writeFile(config, `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(join(dir, 'store'))} }\n`)
  const child = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`nats-server cannot start (${err.message}); install it: apt-get install nats-server`)))
      child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${output.slice(-500)}`)))
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Server is ready')) resolve()
      })
    })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  child.removeAllListeners('exit')
  child.stderr.removeAllListeners('data')
  child.stderr.resume()
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid as number,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = once(child, 'exit')
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
}
