// The operator console's files, console/dist (index.html, app.js, app.css), bundled by esbuild
// from console/src and its npm dependencies (Preact, htm, uPlot): nothing is fetched or compiled
// in the browser. Run by `npm run build`, by scripts/start.js when a source changed, and by the
// console's tests. `node scripts/build-console.js` builds now; with --if-stale, only when a source changed.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
export const CONSOLE_SRC = join(root, 'console', 'src')
export const CONSOLE_DIST = join(root, 'console', 'dist')

function newest (path) {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

/** Whether console/dist is missing or older than a source (or the lock file: a dependency changed). */
export function consoleIsStale () {
  const built = Math.min(...['index.html', 'app.js', 'app.css'].map((f) => statSync(join(CONSOLE_DIST, f), { throwIfNoEntry: false })?.mtimeMs ?? 0))
  return Math.max(newest(CONSOLE_SRC), newest(join(root, 'package-lock.json'))) > built
}

/** Builds console/dist; returns a one-line reason when it could not. */
export async function buildConsole () {
  let esbuild
  try {
    esbuild = await import('esbuild')
  } catch {
    return 'esbuild is not installed (a dev dependency, needed to build the console): run `npm install` in the repository'
  }
  // built aside, then each file renamed into place: a server (or a test) reading console/dist
  // meanwhile finds either the old file or the new one, never half of one
  mkdirSync(CONSOLE_DIST, { recursive: true })
  const aside = mkdtempSync(join(CONSOLE_DIST, '..', '.dist-'))
  try {
    await esbuild.build({
      entryPoints: { app: join(CONSOLE_SRC, 'main.js') },
      outdir: aside,
      bundle: true,
      minify: true,
      format: 'esm',
      target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
      legalComments: 'eof',
      logLevel: 'error'
    })
    copyFileSync(join(CONSOLE_SRC, 'index.html'), join(aside, 'index.html'))
    for (const name of readdirSync(aside)) renameSync(join(aside, name), join(CONSOLE_DIST, name))
  } catch {
    return 'esbuild could not bundle the console (its errors are above)'
  } finally {
    rmSync(aside, { recursive: true, force: true })
  }
  return null
}

if (process.argv[1] === fileURLToPath(import.meta.url) && !(process.argv.includes('--if-stale') && !consoleIsStale())) {
  const problem = await buildConsole()
  if (problem !== null) {
    process.stderr.write(`${problem}\n`)
    process.exit(1)
  }
}
