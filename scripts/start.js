// `npm start`: runs the compiled server, dist/server.js, with plain node. It is built first when it
// is missing or older than a source file (tsc takes seconds; checking the dates, milliseconds).
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from './build.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const SOURCES = ['index.ts', 'server.ts', 'lib', 'routes', 'migrations', 'server', 'tsconfig.json', 'tsconfig.build.json']
const entry = join(root, 'dist', 'server.js')

function newest (path) {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

const built = statSync(entry, { throwIfNoEntry: false })?.mtimeMs ?? 0
if (Math.max(...SOURCES.map((source) => newest(join(root, source)))) > built) {
  process.stderr.write(built === 0 ? 'building dist/ (first start)\n' : 'building dist/ (a source changed)\n')
  const problem = build()
  if (problem !== null) {
    process.stderr.write(`fastify-observers could not start: ${problem}\n`)
    process.exit(1)
  }
}
await import(pathToFileURL(entry).href)
