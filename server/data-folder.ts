// Where the embedded PostgreSQL keeps its data for the folder asked for (./.data for `npm start`).
// A symlink there is followed, so the data can live anywhere. As root the server runs as `postgres`:
// when that user cannot enter the folder's parent (a checkout under /root, or in a 0700 folder) the
// data goes to /var/lib/fastify-observers/data/<checkout>-<hash> and the folder asked for becomes a
// symlink to it, so it still survives restarts and goes away with the symlink.
import { createHash } from 'node:crypto'
import { chown, lstat, mkdir, readdir, readlink, realpath, rm, rmdir, symlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { StartFailedError } from '../lib/errors.js'
import type { RunAs } from './postgres-binaries.js'
import { canEnter, rootFolder } from './run-as-postgres.js'

const isEmpty = async (dir: string): Promise<boolean> => (await readdir(dir)).length === 0

/** The data folder to give PostgreSQL for `dir` (absolute), created, and owned by `runAs` when given. */
export async function placeDataFolder (dir: string, runAs: RunAs | undefined): Promise<string> {
  const found = await lstat(dir).catch(() => undefined)
  if (found?.isSymbolicLink() === true) {
    const target = await realpath(dir).catch(async () => resolve(dirname(dir), await readlink(dir)))
    return await ownedFolder(target, runAs)
  }
  if (runAs === undefined || await canEnter(dirname(dir), runAs)) return await ownedFolder(dir, runAs)
  if (found !== undefined) {
    if (!found.isDirectory() || !await isEmpty(dir)) {
      throw new StartFailedError(`${dir} holds data the postgres user cannot reach (as root, PostgreSQL runs as 'postgres'): ` +
        `move it to a folder that user can enter and make ${dir} a symlink to it, or delete it to start afresh`)
    }
    await rmdir(dir)
  }
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 12)
  const target = join(await rootFolder('data'), `${basename(dirname(dir))}-${hash}`)
  // nothing links to it any more (the symlink was deleted): that data went away with the link
  await rm(target, { recursive: true, force: true })
  await ownedFolder(target, runAs)
  await symlink(target, dir, 'dir')
  return target
}

async function ownedFolder (dir: string, runAs: RunAs | undefined): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  if (runAs === undefined) return dir
  const s = await lstat(dir)
  if (s.uid === runAs.uid) return dir
  if (s.uid !== 0 || !await isEmpty(dir)) {
    throw new StartFailedError(`${dir} belongs to uid ${s.uid}, but as root PostgreSQL runs as 'postgres' (uid ${runAs.uid}): ` +
      `start as uid ${s.uid}, or give it to postgres (chown -R postgres:postgres ${dir})`)
  }
  await chown(dir, runAs.uid, runAs.gid)
  return dir
}
