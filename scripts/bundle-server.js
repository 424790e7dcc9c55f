// The standalone server bundled, build/server.js: server.ts, the plugin and their dependencies in a
// few files (esbuild, about a second). They load in about a third of the time the modules behind
// them take one by one (bench/README.md, "Start-up"). Type errors are `npm run typecheck`'s
// to find. `node scripts/bundle-server.js` bundles now; scripts/start.js when a source changed.
import { readdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const SOURCES = ['index.ts', 'server.ts', 'lib', 'routes', 'migrations', 'server', 'package-lock.json']
export const BUNDLE = join(root, 'build', 'server.js')

function newest (path) {
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

/** Whether build/server.js is missing or older than a source (or the lock file: a dependency changed). */
export function bundleIsStale () {
  const built = statSync(BUNDLE, { throwIfNoEntry: false })?.mtimeMs ?? 0
  return Math.max(...SOURCES.map((source) => newest(join(root, source)))) > built
}

/** Bundles server.ts into build/server.js; returns a one-line reason when it could not. */
export async function bundleServer () {
  let esbuild
  try {
    esbuild = await import('esbuild')
  } catch {
    return 'esbuild is not installed (a dev dependency, needed to build the server): run `npm install` in the repository'
  }
  rmSync(dirname(BUNDLE), { recursive: true, force: true })
  try {
    await esbuild.build({
      entryPoints: [join(root, 'server.ts')],
      outdir: dirname(BUNDLE),
      bundle: true,
      // server.ts's dynamic imports (Fastify, the plugin, Swagger) become chunks of their own, so
      // PostgreSQL starts before they are even read
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
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
  const problem = await bundleServer()
  if (problem !== null) {
    process.stderr.write(`${problem}\n`)
    process.exit(1)
  }
}
