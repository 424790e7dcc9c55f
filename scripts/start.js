// `npm start`: runs the standalone server, bundled into build/server.js, with plain node; bundles
// it first when it is missing or older than a source (checking the dates takes milliseconds).
import { pathToFileURL } from 'node:url'
import { BUNDLE, bundleIsStale, bundleServer } from './bundle-server.js'

if (bundleIsStale()) {
  const problem = await bundleServer()
  if (problem !== null) {
    process.stderr.write(`fastify-observers could not start: ${problem}\n`)
    process.exit(1)
  }
}
await import(pathToFileURL(BUNDLE).href)
