// With `console: { access }`, the host's hook is asked about every request that would change
// something through the admin API: `read` is refused, whether or not it comes from the console's
// page (a header the page sets could be left out). `full` and `none` (not a console user, e.g. an
// automation holding a token) leave the decision to `auth`.
import type { FastifyRequest } from 'fastify'
import { ConsoleReadOnlyError } from '../lib/errors.js'
import type { ConsoleAccessHook } from '../lib/options.js'

const READS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function consoleAccessHook (access: ConsoleAccessHook): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (READS.has(request.method)) return
    if (await access(request) === 'read') throw new ConsoleReadOnlyError(`${request.method} ${request.routeOptions.url ?? request.url}`)
  }
}
