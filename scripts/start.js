// `npm start`: runs the standalone server, bundled into build/server.js, with plain node; bundles
// it (and the console's files) first when missing or older than a source (checking the dates takes milliseconds).
import { pathToFileURL } from 'node:url'
import { BUNDLE, bundleIsStale, bundleServer } from './bundle-server.js'
import { buildConsole, consoleIsStale } from './build-console.js'

if (consoleIsStale()) {
  const problem = await buildConsole()
  if (problem !== null) {
    process.stderr.write(`fastify-observers could not start: ${problem}\n`)
    process.exit(1)
  }
}
if (bundleIsStale()) {
  const problem = await bundleServer()
  if (problem !== null) {
    process.stderr.write(`fastify-observers could not start: ${problem}\n`)
    process.exit(1)
  }
}
await import(pathToFileURL(BUNDLE).href)
