// `npm start`: runs the standalone server bundled into one file, build/server.js, with plain node.
// It is bundled again (esbuild, about a second) when missing or older than a source or the lock
// file. One file loads in about a third of the time the modules behind it take one by one
// (bench/README.md, "Start-up"). Type errors are `npm run typecheck`'s to find, not this script's.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const SOURCES = ['index.ts', 'server.ts', 'lib', 'routes', 'migrations', 'server', 'package-lock.json']
const entry = join(root, 'build', 'server.js')

function newest (path) {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

/** Bundles server.ts into build/server.js; returns a one-line reason when it could not. */
export async function bundleServer () {
  let esbuild
  try {
    esbuild = await import('esbuild')
  } catch {
    return 'esbuild is not installed (a dev dependency, needed to build the server): run `npm install` in the repository'
  }
  try {
    await esbuild.build({
      entryPoints: [join(root, 'server.ts')],
      outfile: entry,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Swagger UI serves files from its own folder; pg-native is an optional require of pg
      external: ['@fastify/swagger-ui', 'pg-native'],
      // the CommonJS packages in the bundle still call require()
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      sourcemap: 'linked',
      logLevel: 'error'
    })
    return null
  } catch {
    return 'esbuild could not bundle server.ts (its errors are above): fix them and start again'
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = statSync(entry, { throwIfNoEntry: false })?.mtimeMs ?? 0
  if (Math.max(...SOURCES.map((source) => newest(join(root, source)))) > built) {
    const problem = await bundleServer()
    if (problem !== null) {
      process.stderr.write(`fastify-observers could not start: ${problem}\n`)
      process.exit(1)
    }
  }
  await import(pathToFileURL(entry).href)
}
