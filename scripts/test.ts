// `npm test`: runs tap against DATABASE_URL, or against a throwaway embedded PostgreSQL started here.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../lib/embedded-postgres.js'

let embedded: EmbeddedDatabase | undefined
let dir: string | undefined
const env = { ...process.env }
if (env.DATABASE_URL === undefined || env.DATABASE_URL === '') {
  // outside /root: the postgres system user must be able to reach the data folder
  dir = await mkdtemp(join(tmpdir(), 'fastify-observers-test-'))
  embedded = await startEmbeddedPostgres({ dir, settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } })
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
