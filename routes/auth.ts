// The admin API's authentication hook, per the `auth` option.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../lib/errors.js'
import type { ResolvedOptions } from '../lib/options.js'

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** Returns the onRequest hook enforcing `auth`, or undefined when the host authenticates (`auth: false`). */
export function authHook (auth: ResolvedOptions['auth']): ((request: FastifyRequest) => Promise<void>) | undefined {
  if (auth === false) return undefined
  if (typeof auth === 'function') {
    return async (request) => {
      if (await auth(request) !== true) throw new UnauthorizedError()
    }
  }
  // compare fixed-length digests in constant time, so neither content nor length leaks
  const expected = auth.tokens.map(digest)
  return async (request) => {
    const header = request.headers.authorization
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (match === null) throw new UnauthorizedError()
    const given = digest(match[1])
    let ok = false
    for (const token of expected) ok = timingSafeEqual(token, given) || ok
    if (!ok) throw new UnauthorizedError()
  }
}
