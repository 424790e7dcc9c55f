// `npm run -s sql -- "<SQL>"`: runs SQL with pg, for the README's walk-through (no psql needed).
// It connects to DATABASE_URL or, when that is unset, to the embedded PostgreSQL that `npm start`
// runs from ./.data: postmaster.pid's 4th line is its port; user and password are the ones
// server/embedded-postgres.ts creates.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'

const EMBEDDED_USER = 'postgres'
const EMBEDDED_PASSWORD = 'observers'

function fail (message) {
  process.stderr.write(`sql: ${message}\n`)
  process.exit(1)
}

async function databaseUrl () {
  if (process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '') return process.env.DATABASE_URL
  // npm runs scripts in the package's folder, where `npm start` keeps .data
  const pidFile = join(process.cwd(), '.data', 'postmaster.pid')
  const lines = await readFile(pidFile, 'utf8').then((text) => text.split('\n'), () => null)
  const port = lines?.[3]?.trim()
  if (port === undefined || !/^\d+$/.test(port)) {
    fail('DATABASE_URL is not set and no embedded PostgreSQL runs from ./.data: start the server (`npm start`) first, or set DATABASE_URL')
  }
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`
}

const text = process.argv.slice(2).join(' ').trim()
if (text === '') fail('usage: npm run -s sql -- "<SQL statement>"')

const client = new pg.Client({ connectionString: await databaseUrl() })
try {
  await client.connect()
  // several statements in one string give one result each
  const results = [await client.query(text)].flat()
  for (const result of results) {
    if (result.fields.length > 0) console.table(result.rows)
    else console.log(`${result.command}${result.rowCount === null ? '' : ` ${result.rowCount}`}`)
  }
} catch (err) {
  // a postmaster.pid left by a server that crashed names a port nothing listens on
  if (err.code === 'ECONNREFUSED' && !process.env.DATABASE_URL) fail('the embedded PostgreSQL of ./.data is not running: start the server (`npm start`) first, or set DATABASE_URL')
  fail(err.message || String(err))
} finally {
  await client.end().catch(() => {})
}
