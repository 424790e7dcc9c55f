// The operator console (SPEC 9.6): its page and files at `<prefix>/console`, under a strict
// Content-Security-Policy, and what the page asks first: may this request act, must it sign in.
// The admin API it calls is the ordinary one; console-access.ts makes `read` refuse actions there.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import { loadConsoleAssets, type ConsoleAsset } from '../lib/console/assets.js'
import { ConsoleAccessDeniedError } from '../lib/errors.js'
import type { ConsoleAccess, ResolvedOptions } from '../lib/options.js'

// nothing inline, nothing from another origin; the charts style their elements through the CSSOM
export const CONSOLE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"
].join('; ')

export interface ConsoleRoutesOptions {
  options: ResolvedOptions
}

export const consoleRoutes: FastifyPluginAsync<ConsoleRoutesOptions> = async (app, { options }) => {
  if (options.console === false) return
  const accessHook = options.console.access
  const assets = await loadConsoleAssets(`${options.prefix}/console`)
  const accessOf = async (request: FastifyRequest): Promise<ConsoleAccess> => accessHook === undefined ? 'full' : await accessHook(request)

  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONSOLE_CSP)
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('x-frame-options', 'DENY')
  })

  const send = async (request: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset): Promise<FastifyReply> => {
    reply.header('cache-control', 'no-cache').header('etag', asset.etag)
    if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
    return await reply.type(asset.type).send(asset.body)
  }
  // kept out of the OpenAPI document: a page, not an API (`hide` is read by @fastify/swagger)
  const hide = { hide: true } as FastifySchema

  app.get('/console', { schema: hide }, async (request, reply) => {
    if (await accessOf(request) === 'none') throw new ConsoleAccessDeniedError()
    return await send(request, reply, assets['index.html'])
  })
  app.get('/console/app.js', { schema: hide }, async (request, reply) => await send(request, reply, assets['app.js']))
  app.get('/console/app.css', { schema: hide }, async (request, reply) => await send(request, reply, assets['app.css']))

  // sign_in: the admin API wants a bearer token, which the page asks for (the host's session is not
  // enough); jobs: whether this server has the jobs API (SPEC 9.4) the Jobs view shows
  app.get('/console/session', { schema: hide }, async (request, reply) => {
    const access = await accessOf(request)
    if (access === 'none') throw new ConsoleAccessDeniedError()
    const jobs = app.hasRoute({ method: 'GET', url: `${options.prefix}/jobs` })
    return await reply.header('cache-control', 'no-store').send({ access, sign_in: typeof options.auth === 'object', jobs })
  })
}
