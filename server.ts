// `npm start`: the plugin as a standalone service (SPEC section 6), bundled and run by scripts/start.js.
// DATABASE_URL unset -> an embedded PostgreSQL in ./.data, started and stopped with the server.
// A failure to start is one line on stderr naming the cause and the fix, and exit code 1.
import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { readConfig, type ServerConfig } from './server/config.js'
import { startEmbeddedPostgres, type EmbeddedDatabase } from './server/embedded-postgres.js'
import { importOptional } from './server/optional-import.js'
import { explainStartFailure } from './server/start-failure.js'

let config: ServerConfig | undefined
let app: FastifyInstance | undefined
let embedded: Promise<EmbeddedDatabase> | undefined
let stopping = false

// PostgreSQL starts first and Fastify, the plugin and Swagger load meanwhile (most of a start is
// module loading): what PostgreSQL reports before the logger exists waits here
let log: FastifyBaseLogger | undefined
const early: Array<(l: FastifyBaseLogger) => void> = []
const logged = (write: (l: FastifyBaseLogger) => void): void => { if (log !== undefined) write(log); else early.push(write) }

async function start (): Promise<void> {
  const cfg = config = readConfig(process.env)
  if (cfg.databaseUrl === undefined) {
    logged((l) => l.info(`DATABASE_URL is not set: starting an embedded PostgreSQL in ./${cfg.dataDir}`))
    embedded = startEmbeddedPostgres({
      dir: cfg.dataDir,
      port: cfg.embeddedPort,
      binDir: cfg.embeddedBin,
      onProgress: (message) => logged((l) => l.info(message)),
      onLog: (line) => logged((l) => { if (/ (FATAL|PANIC): /.test(line)) l.warn({ postgres: line }, 'embedded PostgreSQL'); else l.debug({ postgres: line }) }),
      onExit: (code) => logged((l) => l.error({ code }, 'the embedded PostgreSQL stopped; restart the service'))
    })
    // it may fail while Fastify loads; the failure is taken up below, with the imports'
    embedded.catch(() => {})
  }
  const { default: Fastify } = await import('fastify')
  app = Fastify({ logger: { level: cfg.logLevel } })
  log = app.log
  for (const write of early.splice(0)) write(log)
  // whichever fails first, the imports or PostgreSQL, is the failure told
  const [[plugin, swagger, swaggerUi, { swaggerOptions }], database] = await Promise.all([Promise.all([
    import('./index.js'),
    importOptional('@fastify/swagger', 'the OpenAPI document of the standalone server', async () => await import('@fastify/swagger')),
    importOptional('@fastify/swagger-ui', 'the Swagger UI of the standalone server', async () => await import('@fastify/swagger-ui')),
    import('./server/openapi.js')
  ]), embedded])
  if (stopping) return
  const token = cfg.adminToken ?? randomBytes(24).toString('base64url')
  await app.register(swagger.default, swaggerOptions)
  await app.register(swaggerUi.default, { routePrefix: '/documentation' })
  if (cfg.plugin.unknownVariables.length > 0) {
    log.warn({ variables: cfg.plugin.unknownVariables }, 'these OBSERVERS_* variables name no setting and are ignored (the README lists the settings)')
  }
  await app.register(plugin.default, {
    ...cfg.plugin.options,
    connectionString: database?.url ?? cfg.databaseUrl as string,
    auth: { tokens: [token] },
    // on by default in the standalone server (OBSERVERS_CONSOLE=false turns it off)
    console: (cfg.plugin.options.console as boolean | undefined) ?? true
  })
  const address = await app.listen({ port: cfg.port, host: cfg.host })
  log.info(`admin API at ${address}/observers, Swagger UI at ${address}/documentation, console at ${address}/observers/console`)
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
  logged((l) => l.info({ signal }, 'stopping'))
  // a start still under way runs to its next step first, so nothing it opens is left behind
  starting.catch(() => {}).then(stopAll).then(() => process.exit(0), () => process.exit(1))
}
// a second signal while stopping (tsx and npm pass on the one the process group got) is ignored:
// dying then would leave the embedded PostgreSQL running
process.on('SIGINT', () => { stop('SIGINT') })
process.on('SIGTERM', () => { stop('SIGTERM') })

try {
  await starting
} catch (err) {
  // a signal during start: stop() finishes and exits
  if (!stopping) {
    stopping = true
    log?.debug({ err }, 'start failed')
    process.stderr.write(`fastify-observers could not start: ${config === undefined ? (err as Error).message : explainStartFailure(err, config)}\n`)
    await stopAll()
    process.exit(1)
  }
}
