// `npm test`: runs tap against DATABASE_URL, or against a throwaway embedded PostgreSQL started here.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../server/embedded-postgres.js'

let embedded: EmbeddedDatabase | undefined
let dir: string | undefined
const env = { ...process.env }
if (env.DATABASE_URL === undefined || env.DATABASE_URL === '') {
  dir = await mkdtemp(join(tmpdir(), 'fastify-observers-test-'))
  try {
    embedded = await startEmbeddedPostgres({ dir, ephemeral: true, settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    console.error(`npm test: ${(err as Error).message}`)
    process.exit(1)
  }
  env.DATABASE_URL = embedded.url
  console.log(`# embedded PostgreSQL at ${embedded.url.replace(/:[^:@]*@/, ':***@')}`)
}

const child = spawn(join('node_modules', '.bin', 'tap'), process.argv.slice(2), { stdio: 'inherit', env })
const forward = (signal: NodeJS.Signals): void => { child.kill(signal) }
process.on('SIGINT', forward)
process.on('SIGTERM', forward)
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s !== null ? 1 : 0))))
if (embedded !== undefined) await embedded.stop()
if (dir !== undefined) await rm(dir, { recursive: true, force: true })
process.exit(code)
