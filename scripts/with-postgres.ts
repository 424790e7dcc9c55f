// Runs a command with DATABASE_URL set: the given one, or a throwaway embedded PostgreSQL started
// for it (fsync off) and removed after. `npm test` runs tap this way; usage: tsx scripts/with-postgres.ts <command> [args…]
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { startEmbeddedPostgres } from '../server/embedded-postgres.js'

/** `run` with an environment holding DATABASE_URL; resolves to its exit code (1 when no database could start). */
export async function withPostgres (name: string, run: (env: NodeJS.ProcessEnv) => Promise<number>): Promise<number> {
  const env = { ...process.env }
  if (env.DATABASE_URL !== undefined && env.DATABASE_URL !== '') return await run(env)
  const dir = await mkdtemp(join(tmpdir(), 'fastify-observers-test-'))
  try {
    const embedded = await startEmbeddedPostgres({ dir, ephemeral: true, settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } })
      .catch((err: Error) => { console.error(`${name}: ${err.message}`) })
    if (embedded === undefined) return 1
    try {
      console.log(`# embedded PostgreSQL at ${embedded.url.replace(/:[^:@]*@/, ':***@')}`)
      return await run({ ...env, DATABASE_URL: embedded.url })
    } finally {
      await embedded.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Spawns a command and resolves to its exit code; SIGINT and SIGTERM are passed on to it. */
export async function runCommand (command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(command, args, { stdio: 'inherit', env })
  const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  return await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 1 : 0))))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, ...args] = process.argv.slice(2)
  process.exit(await withPostgres('with-postgres', async (env) => await runCommand(command, args, env)))
}
