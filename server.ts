// `npm start`: the plugin as a standalone service (SPEC section 6).
// DATABASE_URL unset -> an embedded PostgreSQL under ./.data, started and stopped with the server.
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import observerPlugin from './index.js'
import { startEmbeddedPostgres, type EmbeddedDatabase } from './lib/embedded-postgres.js'
import { swaggerOptions } from './lib/openapi.js'

const env = process.env
const app = Fastify({ logger: { level: env.LOG_LEVEL ?? 'info' } })

let embedded: EmbeddedDatabase | undefined
let databaseUrl = env.DATABASE_URL
if (databaseUrl === undefined || databaseUrl === '') {
  app.log.info('DATABASE_URL is not set: starting an embedded PostgreSQL in ./.data')
  embedded = await startEmbeddedPostgres({ dir: '.data', port: Number(env.EMBEDDED_PG_PORT ?? 0) })
  databaseUrl = embedded.url
}

let token = env.OBSERVERS_ADMIN_TOKEN
if (token === undefined || token === '') {
  token = randomBytes(24).toString('base64url')
  // printed once, on stdout, for the operator who just started the service
  console.log(`\nAdmin token (set OBSERVERS_ADMIN_TOKEN to choose your own):\n  ${token}\n`)
}

const stop = async (signal: string): Promise<void> => {
  app.log.info({ signal }, 'stopping')
  try {
    await app.close()
  } finally {
    await embedded?.stop()
    process.exit(0)
  }
}
process.once('SIGINT', () => { stop('SIGINT').catch(() => process.exit(1)) })
process.once('SIGTERM', () => { stop('SIGTERM').catch(() => process.exit(1)) })

try {
  await app.register(swagger, swaggerOptions)
  await app.register(swaggerUi, { routePrefix: '/documentation' })
  await app.register(observerPlugin, {
    connectionString: databaseUrl,
    schema: env.OBSERVERS_SCHEMA ?? 'observer',
    auth: { tokens: [token] },
    network: { allowPrivate: env.OBSERVERS_ALLOW_PRIVATE_NETWORKS === 'true' }
  })
  const address = await app.listen({ port: Number(env.PORT ?? 3000), host: env.HOST ?? '127.0.0.1' })
  app.log.info(`admin API at ${address}/observers, Swagger UI at ${address}/documentation`)
} catch (err) {
  app.log.error({ err }, 'failed to start')
  await app.close().catch(() => {})
  await embedded?.stop()
  process.exit(1)
}
