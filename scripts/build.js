// `npm run build` (also run by `npm pack` through `prepack`, and by `npm start` when dist/ is missing
// or older than a source): a clean dist/ compiled by tsc, so nothing removed from the sources
// lingers in it. Plain JavaScript: it runs before anything is compiled.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Builds dist/; returns a one-line reason when it could not. */
export function build () {
  let tsc
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  } catch {
    return 'typescript is not installed (a dev dependency, needed to build dist/): run `npm install` in the repository'
  }
  rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true })
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  return result.status === 0 ? null : 'tsc reported the errors above and wrote nothing: fix them and start again'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problem = build()
  if (problem !== null) {
    process.stderr.write(`build failed: ${problem}\n`)
    process.exit(1)
  }
}
