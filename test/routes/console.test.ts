// The console's page and files (SPEC 9.6) as served: only when asked for, under a strict CSP, at
// the admin prefix; and the host's access hook: `none` gets no page, `read` gets no action.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { FastifyRequest } from 'fastify'
import { findConsoleDir, loadConsoleAssets } from '../../lib/console/assets.js'
import { build } from '../helper.js'
import { ensureConsoleBuilt } from '../console/browser.js'
import { call, observerBody } from '../helpers/routes.js'

ensureConsoleBuilt()

t.test('no console unless the option asks for one', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  t.equal((await app.inject({ method: 'GET', url: '/observers/console' })).statusCode, 401, 'an observer id, for all the API knows')
  const res = await call(app, 'GET', '/console')
  t.same([res.statusCode, res.json().code], [400, 'OBS_ERR_INVALID_ID'])
  t.equal((await app.inject({ method: 'GET', url: '/observers/console/app.js' })).statusCode, 404)
})

t.test('console: true serves the page and its files without a token, under a strict CSP', async (t) => {
  const { app } = await build(t, { console: true, runtime: { start: false } })
  const page = await app.inject({ method: 'GET', url: '/observers/console' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from the page\'s origin only: no inline, no eval')
  t.notMatch(csp, /unsafe|https?:/, 'nothing unsafe, no other origin')
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  t.match(page.body, '<script type="module" src="/observers/console/app.js"></script>')
  t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
  t.notMatch(page.body, /https?:\/\//, 'nothing from another origin')

  const js = await app.inject({ method: 'GET', url: '/observers/console/app.js' })
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /^text\/javascript/)
  t.equal(js.headers['content-security-policy'], csp)
  // XML namespaces and the form's example URL (a reserved domain) are the only URLs in it
  t.notMatch(js.body, /https?:\/\/(?!www\.w3\.org\/|example\.com\/)/, 'the bundle names no other origin')
  const again = await app.inject({ method: 'GET', url: '/observers/console/app.js', headers: { 'if-none-match': String(js.headers.etag) } })
  t.equal(again.statusCode, 304, 'a cached copy is revalidated by its etag')
  const css = await app.inject({ method: 'GET', url: '/observers/console/app.css' })
  t.match(css.headers['content-type'], /^text\/css/)

  const session = await app.inject({ method: 'GET', url: '/observers/console/session' })
  t.same(session.json(), { access: 'full', sign_in: true, jobs: true }, 'the page asks for the admin token; the Jobs view is on')
  t.equal((await app.inject({ method: 'GET', url: '/observers' })).statusCode, 401, 'the API still wants the token')
})

t.test('the page follows the prefix', async (t) => {
  const { app } = await build(t, { console: true, prefix: '/admin/events', runtime: { start: false } })
  const page = await app.inject({ method: 'GET', url: '/admin/events/console' })
  t.match(page.body, 'src="/admin/events/console/app.js"')
  t.match(page.body, 'href="/admin/events/console/app.css"')
})

t.test('the host\'s access hook: none gets no console, read gets no action, full acts', async (t) => {
  const access = (request: FastifyRequest): 'full' | 'read' | 'none' => {
    const role = request.headers['x-role']
    return role === 'admin' ? 'full' : role === 'viewer' ? 'read' : 'none'
  }
  const { app } = await build(t, { console: { access }, runtime: { start: false } })
  const as = (role: string): Record<string, string> => ({ 'x-role': role })

  for (const url of ['/observers/console', '/observers/console/session']) {
    const res = await app.inject({ method: 'GET', url, headers: as('stranger') })
    t.same([res.statusCode, res.json().code], [403, 'OBS_ERR_CONSOLE_ACCESS_DENIED'], `none: ${url}`)
  }
  t.same((await app.inject({ method: 'GET', url: '/observers/console/session', headers: as('viewer') })).json(),
    { access: 'read', sign_in: true, jobs: true })

  const read = await call(app, 'POST', '', observerBody({ name: 'by a viewer' }), as('viewer'))
  t.equal(read.statusCode, 403)
  t.equal(read.json().code, 'OBS_ERR_CONSOLE_READ_ONLY')
  t.match(read.json().message, 'POST /observers')
  t.equal((await call(app, 'GET', '', undefined, as('viewer'))).statusCode, 200, 'a viewer reads')
  t.equal((await call(app, 'POST', '/dlq/retry-all', {}, as('viewer'))).statusCode, 403, 'and retries nothing')

  const created = await call(app, 'POST', '', observerBody({ name: 'by an admin' }), as('admin'))
  t.equal(created.statusCode, 201, 'full acts')
  t.equal((await call(app, 'POST', `/${created.json().id as string}/disable`, undefined, as('viewer'))).statusCode, 403)
  t.equal((await call(app, 'POST', `/${created.json().id as string}/disable`)).statusCode, 200, 'none (not a console user): the token decides')
})

t.test('without its built files the console refuses to register, saying how to build them', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'no-console-'))
  t.equal(await findConsoleDir(empty), undefined)
  await t.rejects(loadConsoleAssets('/observers/console', empty), { code: 'OBS_ERR_CONSOLE_NOT_BUILT', message: /npm run build/ })
  t.ok(await findConsoleDir(), 'found beside the sources')
})
