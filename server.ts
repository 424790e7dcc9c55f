// `npm start`: the plugin as a standalone service (SPEC section 6), run compiled (scripts/start.js).
// DATABASE_URL unset -> an embedded PostgreSQL in ./.data, started and stopped with the server.
// A failure to start is one line on stderr naming the cause and the fix, and exit code 1.
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { readConfig, type ServerConfig } from './server/config.js'
import { startEmbeddedPostgres, type EmbeddedDatabase } from './server/embedded-postgres.js'
import { importOptional } from './server/optional-import.js'
import { explainStartFailure } from './server/start-failure.js'

let config: ServerConfig | undefined
let app: FastifyInstance | undefined
let embedded: Promise<EmbeddedDatabase> | undefined
let stopping = false

async function start (): Promise<void> {
  const cfg = config = readConfig(process.env)
  const log = (app = Fastify({ logger: { level: cfg.logLevel } })).log
  if (cfg.databaseUrl === undefined) {
    log.info(`DATABASE_URL is not set: starting an embedded PostgreSQL in ./${cfg.dataDir}`)
    embedded = startEmbeddedPostgres({
      dir: cfg.dataDir,
      port: cfg.embeddedPort,
      binDir: cfg.embeddedBin,
      onProgress: (message) => log.info(message),
      onLog: (line) => { if (/ (FATAL|PANIC): /.test(line)) log.warn({ postgres: line }, 'embedded PostgreSQL'); else log.debug({ postgres: line }) },
      onExit: (code) => log.error({ code }, 'the embedded PostgreSQL stopped; restart the service')
    })
  }
  // loaded while PostgreSQL starts; whichever fails first is the failure told
  const [[plugin, swagger, swaggerUi, { swaggerOptions }], database] = await Promise.all([Promise.all([
    import('./index.js'),
    importOptional<typeof import('@fastify/swagger')>('@fastify/swagger', 'the OpenAPI document of the standalone server'),
    importOptional<typeof import('@fastify/swagger-ui')>('@fastify/swagger-ui', 'the Swagger UI of the standalone server'),
    import('./server/openapi.js')
  ]), embedded])
  if (stopping) return
  const databaseUrl = database?.url ?? cfg.databaseUrl as string
  const token = cfg.adminToken ?? randomBytes(24).toString('base64url')
  await app.register(swagger.default, swaggerOptions)
  await app.register(swaggerUi.default, { routePrefix: '/documentation' })
  await app.register(plugin.default, {
    connectionString: databaseUrl,
    schema: cfg.schema,
    auth: { tokens: [token] },
    network: { allowPrivate: cfg.allowPrivateNetworks }
  })
  const address = await app.listen({ port: cfg.port, host: cfg.host })
  log.info(`admin API at ${address}/observers, Swagger UI at ${address}/documentation`)
  // printed once, on stdout, for the operator who just started the service
  if (cfg.adminToken === undefined) console.log(`\nAdmin token (set OBSERVERS_ADMIN_TOKEN to choose your own):\n  ${token}\n`)
}

async function stopAll (): Promise<void> {
  await app?.close().catch((err: unknown) => app?.log.error({ err }, 'while closing'))
  await (await embedded?.catch(() => undefined))?.stop()
}

const starting = start()

const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  app?.log.info({ signal }, 'stopping')
  // a start still under way runs to its next step first, so nothing it opens is left behind
  starting.catch(() => {}).then(stopAll).then(() => process.exit(0), () => process.exit(1))
}
process.once('SIGINT', () => { stop('SIGINT') })
process.once('SIGTERM', () => { stop('SIGTERM') })

try {
  await starting
} catch (err) {
  // a signal during start: stop() finishes and exits
  if (!stopping) {
    stopping = true
    app?.log.debug({ err }, 'start failed')
    process.stderr.write(`fastify-observers could not start: ${config === undefined ? (err as Error).message : explainStartFailure(err, config)}\n`)
    await stopAll()
    process.exit(1)
  }
}
