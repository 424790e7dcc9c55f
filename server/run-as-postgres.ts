// As root: PostgreSQL refuses to run as root, so it runs as the `postgres` system user, which may not
// enter the checkout (under /root, or in a 0700 folder). What it cannot reach is placed under
// /var/lib/fastify-observers: a copy of the binaries per version, and the data of such checkouts
// (see data-folder.ts). README.md, "The embedded database and ./.data", explains the layout.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, lstat, mkdir, readFile, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { StartFailedError } from '../lib/errors.js'
import type { Binaries, RunAs } from './postgres-binaries.js'

export const ROOT_HOME = '/var/lib/fastify-observers'

const exec = promisify(execFile)

const idOf = async (flag: '-u' | '-g'): Promise<number> => Number((await exec('id', [flag, 'postgres'])).stdout.trim())

// /etc/passwd first: a spawn costs a round trip of the event loop, which module loading keeps busy
async function lookUp (): Promise<RunAs | undefined> {
  const line = (await readFile('/etc/passwd', 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith('postgres:'))
  const [uid, gid] = line?.split(':').slice(2, 4).map(Number) ?? []
  if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid }
  try {
    const [uid, gid] = await Promise.all([idOf('-u'), idOf('-g')])
    return { uid, gid }
  } catch {
    return undefined
  }
}

/** The postgres user's ids when we are root (the user is created when missing), else undefined. */
export async function postgresUser (): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const found = await lookUp()
  if (found !== undefined) return found
  try {
    if (!await exec('getent', ['group', 'postgres']).then(() => true, () => false)) await exec('groupadd', ['--system', 'postgres'])
    await exec('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres'])
    return { uid: await idOf('-u'), gid: await idOf('-g') }
  } catch (err) {
    throw new StartFailedError(`PostgreSQL does not run as root and no 'postgres' user could be created (${(err as Error).message.split('\n')[0]}): ` +
      'create one (useradd --system postgres), or run as an ordinary user')
  }
}

/** Whether `user` can enter `dir` (every folder on the way included), or run `dir` when it is a program. */
export async function canEnter (dir: string, user: RunAs): Promise<boolean> {
  return await exec('/bin/sh', ['-c', 'test -x "$1"', 'sh', dir], user).then(() => true, () => false)
}

/** ROOT_HOME/<name>, created root-owned; refused unless only root can write to it. */
export async function rootFolder (...names: string[]): Promise<string> {
  const dir = join(ROOT_HOME, ...names)
  await mkdir(dir, { recursive: true, mode: 0o755 })
  for (let at = dir; at !== dirname(ROOT_HOME); at = dirname(at)) {
    const s = await lstat(at)
    if (!s.isDirectory() || s.uid !== 0 || (s.mode & 0o022) !== 0) {
      throw new StartFailedError(`${at} must be a folder owned by root that others cannot write to: remove it or fix its owner and mode (chmod 755)`)
    }
  }
  return dir
}

/** The binaries themselves when the postgres user can run them, else a copy it can run (made once per version). */
export async function reachableBinaries (binaries: Binaries, user: RunAs): Promise<Binaries> {
  if (await canEnter(binaries.postgres, user)) return binaries
  const tree = binaries.tree
  if (tree === null) {
    throw new StartFailedError(`the postgres user cannot run ${binaries.postgres} (EMBEDDED_PG_BIN): put the binaries where it can, or unset EMBEDDED_PG_BIN`)
  }
  const home = await rootFolder()
  const target = join(home, `postgresql-${tree.version}-${process.platform}-${process.arch}`)
  const ready = await lstat(target).then(() => true, () => false)
  if (!ready) {
    // copied aside and renamed: a copy cut short is never taken for a complete one, and two
    // servers starting together both end with the one that was renamed first
    const partial = join(home, `.copy-${randomBytes(6).toString('hex')}`)
    try {
      await cp(tree.dir, partial, { recursive: true, verbatimSymlinks: true })
      await rename(partial, target).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err
      })
    } finally {
      await rm(partial, { recursive: true, force: true })
    }
  }
  const bin = join(target, 'bin')
  return { ...binaries, bin, initdb: join(bin, basename(binaries.initdb)), postgres: join(bin, basename(binaries.postgres)), tree: { ...tree, dir: target } }
}
