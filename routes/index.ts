// The admin API: an encapsulated child registered under the prefix, so its hooks, validator,
// error handler and body limit never leak into the host application.
import type { FastifyPluginAsync } from 'fastify'
import type { ResolvedOptions } from '../lib/options.js'
import { authHook } from './auth.js'
import { backfillRoutes } from './backfill.js'
import { blockedKeyRoutes } from './blocked-keys.js'
import { captureRoutes } from './captures.js'
import { changeLogRoutes } from './changelog.js'
import { consoleAccessHook } from './console-access.js'
import { consoleRoutes } from './console.js'
import { deadLetterRoutes } from './dead-letters.js'
import { dryRunRoutes } from './dry-run.js'
import { endpointRoutes } from './endpoints.js'
import { errorHandler, notFoundHandler } from './error-handler.js'
import { jobRoutes } from './jobs.js'
import { listenerRoutes } from './listeners.js'
import { logRoutes } from './logs.js'
import { metricsRoutes } from './metrics.js'
import { observerRoutes } from './observers.js'
import { replayRoutes } from './replay.js'
import { runtimeHealthRoutes, runtimeRoutes } from './runtime.js'
import { statsRoutes } from './stats.js'
import { throughputRoutes } from './throughput.js'
import { schemaErrorFormatter, validatorCompiler } from './validation.js'

export interface AdminRoutesOptions {
  options: ResolvedOptions
}

/** Largest request body the admin API reads (an observer with many actions fits easily). */
export const ADMIN_BODY_LIMIT = 1024 * 1024

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, { options }) => {
  app.setErrorHandler(errorHandler)
  // unknown body fields are a 400 here, whatever the host's Ajv does (it removes them by default)
  app.setValidatorCompiler(validatorCompiler)
  app.setSchemaErrorFormatter(schemaErrorFormatter)
  // the host's own limit still applies when it is stricter
  const bodyLimit = Math.min(app.initialConfig.bodyLimit ?? ADMIN_BODY_LIMIT, ADMIN_BODY_LIMIT)
  app.addHook('onRoute', (route) => { route.bodyLimit ??= bodyLimit })
  // a 404 under the prefix answers in the API's error shape; without a prefix the host's handler stays
  if (options.prefix !== '') app.setNotFoundHandler(notFoundHandler)
  await app.register(runtimeHealthRoutes)
  // the page and its files are public (the API they call is not); the host's access hook guards the page
  await app.register(consoleRoutes, { options })
  // everything registered below needs authentication
  await app.register(async (secured) => {
    const hook = authHook(options.auth)
    if (hook !== undefined) secured.addHook('onRequest', hook)
    if (options.console !== false && options.console.access !== undefined) secured.addHook('onRequest', consoleAccessHook(options.console.access))
    // in the order of the OpenAPI document; static paths (/stats, /endpoints) win over /:id whatever the order
    await secured.register(observerRoutes)
    await secured.register(statsRoutes)
    await secured.register(blockedKeyRoutes)
    await secured.register(logRoutes)
    await secured.register(dryRunRoutes)
    await secured.register(runtimeRoutes)
    await secured.register(listenerRoutes)
    await secured.register(throughputRoutes)
    await secured.register(metricsRoutes)
    await secured.register(deadLetterRoutes)
    await secured.register(endpointRoutes)
    await secured.register(changeLogRoutes)
    await secured.register(captureRoutes)
    await secured.register(jobRoutes)
    await secured.register(replayRoutes)
    await secured.register(backfillRoutes)
  })
}
