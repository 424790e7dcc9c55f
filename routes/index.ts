// The admin API: an encapsulated child registered under the prefix, so its hooks, schemas and
// error handler never leak into the host application.
import type { FastifyPluginAsync } from 'fastify'
import type { ResolvedOptions } from '../lib/options.js'
import { authHook } from './auth.js'
import { errorHandler } from './error-handler.js'
import { runtimeHealthRoutes, runtimeRoutes } from './runtime.js'

export interface AdminRoutesOptions {
  options: ResolvedOptions
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, { options }) => {
  app.setErrorHandler(errorHandler)
  await app.register(runtimeHealthRoutes)
  // everything registered below needs authentication
  await app.register(async (secured) => {
    const hook = authHook(options.auth)
    if (hook !== undefined) secured.addHook('onRequest', hook)
    await secured.register(runtimeRoutes)
  })
}
