// fastify-observers: PostgreSQL row changes -> reliable actions, inside your Fastify service.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { openConnection } from './lib/db/connection.js'
import { AdminRoutesError, AlreadyRegisteredError } from './lib/errors.js'
import { migrateToLatest } from './lib/db/migrate.js'
import { resolveOptions, type ObserverPluginOptions, type ResolvedOptions } from './lib/options.js'
import { createRuntime, type ObserversApi } from './lib/runtime/runtime.js'
import { adminRoutes } from './routes/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The observers runtime and its database (fastify-observers). */
    observers: ObserversApi
  }
}

const observerPlugin: FastifyPluginAsync<ObserverPluginOptions> = async (app, rawOptions) => {
  if (app.hasDecorator('observers')) throw new AlreadyRegisteredError()
  const options = resolveOptions(rawOptions)
  const log = app.log.child({ plugin: 'fastify-observers' })
  const connection = openConnection(options, log)
  let runtime: ObserversApi | undefined
  try {
    if (options.migrate) await migrateToLatest(connection.db, options.schema)
    runtime = createRuntime({ options, connection, log })
    app.decorate('observers', runtime)
    if (options.routes) await registerRoutes(app, options)
  } catch (err) {
    // a register that fails part-way (a migration, a custom action's name, a route clash) leaves
    // no pool, agent or listener behind: the host gets the error, not a process that cannot exit
    await runtime?.actions.close()
    await connection.close()
    throw err
  }
  const started = runtime
  if (options.runtime.start) {
    // start reading once the host is ready, so its own onReady hooks (and migrations) ran first
    app.addHook('onReady', async () => { await started.start() })
  }
  app.addHook('onClose', async () => {
    await started.stop()
    await started.actions.close()
    await connection.close()
  })
}

async function registerRoutes (app: FastifyInstance, options: ResolvedOptions): Promise<void> {
  try {
    await app.register(adminRoutes, { prefix: options.prefix, options })
  } catch (err) {
    throw new AdminRoutesError(options.prefix, (err as Error).message, { cause: err })
  }
}

export default fp(observerPlugin, { name: 'fastify-observers', fastify: '5.x' })
export { observerPlugin }
export type { ObserverPluginOptions } from './lib/options.js'
export type { ObserversApi } from './lib/runtime/runtime.js'
export type { Observer, ObserverEvent, EventEnvelope, ActionConfig, RetryConfig } from './lib/model.js'
export type { ActionContext, ActionOutcome, CustomActionHandler } from './lib/actions/types.js'
export { setTraceContext, type QueryClient } from './lib/db/trace-settings.js'
