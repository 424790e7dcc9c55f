// The console's built files (console/dist, made by `npm run build` from console/src), found from
// wherever this module runs: the sources, the compiled package (dist/lib/console) or the
// standalone server's bundle (build/chunks). They are small and read once, at register.
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConsoleNotBuiltError } from '../errors.js'

export interface ConsoleAsset {
  body: Buffer
  type: string
  etag: string
}

const FILES = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' } as const
export type ConsoleFile = keyof typeof FILES

/** The folder of the built console: the nearest `console/dist` with an index.html above this module. */
export async function findConsoleDir (from = dirname(fileURLToPath(import.meta.url))): Promise<string | undefined> {
  for (let dir = from, up = 0; up < 5; dir = dirname(dir), up++) {
    const candidate = join(dir, 'console', 'dist')
    if ((await stat(join(candidate, 'index.html')).catch(() => undefined))?.isFile() === true) return candidate
  }
  return undefined
}

/** Reads the built files; `base` (the console's URL path) replaces `%BASE%` in the page. Throws ConsoleNotBuiltError. */
export async function loadConsoleAssets (base: string, dir?: string): Promise<Record<ConsoleFile, ConsoleAsset>> {
  const folder = dir ?? await findConsoleDir()
  if (folder === undefined) throw new ConsoleNotBuiltError('no console/dist beside the package')
  const assets = {} as Record<ConsoleFile, ConsoleAsset>
  for (const [name, type] of Object.entries(FILES) as Array<[ConsoleFile, string]>) {
    let body = await readFile(join(folder, name)).catch(() => undefined)
    if (body === undefined) throw new ConsoleNotBuiltError(`${join(folder, name)} is missing`)
    if (name === 'index.html') body = Buffer.from(body.toString('utf8').replaceAll('%BASE%', base))
    assets[name] = { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }
  }
  return assets
}
