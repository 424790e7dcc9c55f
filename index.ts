// fastify-observers: PostgreSQL row changes -> reliable actions, inside your Fastify service.
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { openConnection } from './lib/db/connection.js'
import { migrateToLatest } from './lib/db/migrate.js'
import { resolveOptions, type ObserverPluginOptions } from './lib/options.js'
import { createRuntime, type ObserversApi } from './lib/runtime/runtime.js'
import { adminRoutes } from './routes/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The observers runtime and its database (fastify-observers). */
    observers: ObserversApi
  }
}

const observerPlugin: FastifyPluginAsync<ObserverPluginOptions> = async (app, rawOptions) => {
  if (app.hasDecorator('observers')) throw new Error('fastify-observers is already registered on this instance')
  const options = resolveOptions(rawOptions)
  const log = app.log.child({ plugin: 'fastify-observers' })
  const connection = openConnection(options, log)
  try {
    if (options.migrate) await migrateToLatest(connection.db, options.schema)
  } catch (err) {
    await connection.close()
    throw err
  }
  const runtime = createRuntime({ options, connection, log })
  app.decorate('observers', runtime)
  if (options.routes) await app.register(adminRoutes, { prefix: options.prefix, options })
  if (options.runtime.start) {
    // start reading once the host is ready, so its own onReady hooks (and migrations) ran first
    app.addHook('onReady', async () => { await runtime.start() })
  }
  app.addHook('onClose', async () => {
    await runtime.stop()
    await runtime.actions.close()
    await connection.close()
  })
}

export default fp(observerPlugin, { name: 'fastify-observers', fastify: '5.x' })
export { observerPlugin }
export type { ObserverPluginOptions } from './lib/options.js'
export type { ObserversApi } from './lib/runtime/runtime.js'
export type { Observer, ObserverEvent, EventEnvelope, ActionConfig, RetryConfig } from './lib/model.js'
export type { ActionContext, ActionOutcome, CustomActionHandler } from './lib/actions/types.js'
export { setTraceContext, type QueryClient } from './lib/db/trace-settings.js'
