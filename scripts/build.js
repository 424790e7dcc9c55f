// `npm run build` (also run by `npm pack` through `prepack`): the plugin's package, a clean dist/
// compiled by tsc, so nothing removed from the sources lingers in it, and the console's files.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { buildConsole } from './build-console.js'

const root = fileURLToPath(new URL('..', import.meta.url))
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
if (result.status !== 0) process.exit(result.status ?? 1)
const problem = await buildConsole()
if (problem !== null) {
  process.stderr.write(`${problem}\n`)
  process.exit(1)
}
