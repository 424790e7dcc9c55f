// Loads Swagger UI in headless Chromium and checks it lists every operation of the admin API.
// A script, not a test: CI does not install Chromium. Usage: `npx tsx scripts/check-swagger-ui.ts`
// (CHROMIUM=/path/to/chromium to pick the binary; Debian's `chromium` package by default).
//
// The app is the standalone server's (server.ts) minus its database: Swagger UI at /documentation
// over the same swaggerOptions, the plugin registered with migrations off and the runtime not
// started, so no PostgreSQL is needed to render the documentation.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import observerPlugin from '../index.js'
import { swaggerOptions } from '../server/openapi.js'

const CHROMIUM = process.env.CHROMIUM ?? 'chromium'

async function dumpDom (url: string): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'swagger-ui-check-'))
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(CHROMIUM, [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`,
        '--dump-dom', '--virtual-time-budget=10000', url
      ], { stdio: ['ignore', 'pipe', 'pipe'] })
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'))
        else reject(new Error(`chromium exited with ${String(code)}: ${Buffer.concat(err).toString('utf8').slice(-2000)}`))
      })
    })
  } finally {
    await rm(profile, { recursive: true, force: true })
  }
}

const app = Fastify({ logger: false })
let failed = false
try {
  await app.register(swagger, swaggerOptions)
  await app.register(swaggerUi, { routePrefix: '/documentation' })
  await app.register(observerPlugin, {
    connectionString: 'postgres://unused@127.0.0.1:1/unused',
    migrate: false,
    auth: { tokens: ['swagger-ui-check-only-token'] },
    runtime: { start: false }
  })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { operationId: string, tags: string[] }>> }
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, id: op.operationId, tag: op.tags[0] })))
  const url = `${address}/documentation/static/index.html`
  console.log(`loading ${url} in ${CHROMIUM}`)
  const dom = await dumpDom(url)
  console.log(`rendered DOM: ${dom.length} characters, ${(dom.match(/class="opblock /g) ?? []).length} operation blocks`)
  const missing = operations.filter((op) => !dom.includes(`id="operations-${op.tag}-${op.id}"`))
  for (const op of operations) console.log(`${missing.includes(op) ? 'MISSING' : 'listed '} ${op.method.padEnd(6)} ${op.path}  (${op.id})`)
  if (missing.length > 0 || operations.length === 0) {
    failed = true
    console.error(`Swagger UI does not list ${missing.length} of ${operations.length} operations`)
  } else {
    console.log(`Swagger UI lists all ${operations.length} operations`)
  }
} catch (err) {
  failed = true
  console.error(err)
} finally {
  await app.close()
}
process.exit(failed ? 1 : 0)
