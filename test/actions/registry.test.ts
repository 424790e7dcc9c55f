import t from 'tap'
import { createActionRegistry } from '../../lib/actions/registry.js'
import { REDACTED } from '../../lib/actions/types.js'
import type { ActionServices, CustomActionHandler } from '../../lib/actions/types.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'

type T = Parameters<typeof startHttpTarget>[0]

function registry (t: T, services: ActionServices = testServices(), custom: Record<string, CustomActionHandler> = {}) {
  const actions = createActionRegistry(services, custom)
  t.teardown(() => actions.close())
  return actions
}

const event = sampleEnvelope()

t.test('knows the built-ins and the custom actions', async t => {
  const actions = registry(t, testServices(), { audit: () => 'ok' })
  t.same(actions.types(), ['webhook', 'slack', 'email', 'database', 'log', 'nats', 'audit'])
  t.equal(actions.get('webhook')?.type, 'webhook')
  t.equal(actions.get('nope'), undefined)
})

t.test('a custom action cannot take a built-in name', async t => {
  t.throws(() => createActionRegistry(testServices(), { webhook: () => null }),
    { message: "custom action 'webhook' clashes with the built-in action of that name; choose another name" })
  t.throws(() => createActionRegistry(testServices(), { audit: 'not a function' as unknown as CustomActionHandler }),
    { message: "custom action 'audit' must be a function" })
})

t.test('validate names the action index and the field', async t => {
  const strict = registry(t, testServices({ allowPrivate: false, smtp: { host: 'mail.example.com' } }))
  const cases: Array<[unknown, string | null]> = [
    [{ type: 'webhook', url: 'https://hooks.example.com/in' }, null],
    [{ type: 'webhook', url: 'not a url' }, 'actions/3/url: must be a URL'],
    [{ type: 'webhook', url: 'http://169.254.169.254/' }, 'actions/3/url: refused: address 169.254.169.254 is cloud metadata'],
    [{ type: 'webhook', url: 'http://localhost:8080/' }, "actions/3/url: refused: host 'localhost' is loopback (localhost)"],
    [{ type: 'webhook', url: 'https://x.example.com', method: 'DELETE' }, 'actions/3/method: must be one of POST, PUT, PATCH'],
    [{ type: 'webhook', url: 'https://x.example.com', colour: 'red' }, 'actions/3/colour: is not an allowed property'],
    [{ type: 'webhook', url: 'https://x.example.com', headers: { 'X-A': 1 } }, 'actions/3/headers/X-A: must be string'],
    [{ type: 'webhook', url: 'https://x.example.com', timeout_ms: 0 }, 'actions/3/timeout_ms: must be >= 1'],
    [{ type: 'webhook', url_env: 'lower-case-not-allowed' }, 'actions/3/url_env: must be an environment variable name (letters, digits and _, not starting with a digit)'],
    [{ type: 'email' }, 'actions/3/to: is required'],
    [{ type: 'email', to: ['ok@example.com', 'not-an-address'] }, 'actions/3/to/1: must be an email address'],
    [{ type: 'email', to: 'ok@example.com' }, null],
    [{ type: 'database', function_name: 'public.notify_order' }, null],
    [{ type: 'database', function_name: 'x; drop table users' }, 'actions/3/function_name: must be a function name or schema.function_name (letters, digits and _, at most 63 each)'],
    [{ type: 'log', level: 'loud' }, 'actions/3/level: must be one of trace, debug, info, warn, error'],
    [{ type: 'slack', webhook_url_env: 'SLACK_URL', channel: '#ops' }, null],
    [{ type: 'carrier-pigeon' }, "actions/3/type: unknown action type 'carrier-pigeon'"],
    [{ url: 'https://x.example.com' }, 'actions/3/type: must be a string'],
    ['webhook', 'actions/3: must be an object'],
    [null, 'actions/3: must be an object']
  ]
  for (const [action, expected] of cases) t.equal(strict.validate(action, 3), expected, JSON.stringify(action))
})

t.test('validate: email needs smtp; custom actions accept any config', async t => {
  const actions = registry(t, testServices(), { audit: () => null })
  t.equal(actions.validate({ type: 'email', to: 'a@example.com' }, 0), 'actions/0: email actions need the smtp option')
  t.equal(actions.validate({ type: 'audit', anything: { goes: [1, 2] }, level: 9 }, 1), null)
})

t.test('validate gives the same answer every time it is asked', async t => {
  const actions = registry(t, testServices({ allowPrivate: false }))
  const bad = { type: 'webhook', url: 'http://10.0.0.1/' }
  t.equal(actions.validate(bad, 0), 'actions/0/url: refused: address 10.0.0.1 is private (10.0.0.0/8)')
  t.equal(actions.validate(bad, 2), 'actions/2/url: refused: address 10.0.0.1 is private (10.0.0.0/8)', 'index follows the caller')
})

t.test('run delivers through the built-in action', async t => {
  const target = await startHttpTarget(t)
  const actions = registry(t)
  const outcome = await actions.run(event, { type: 'webhook', url: target.url }, testContext(testServices()))
  t.same(outcome, { ok: true, statusCode: 200, response: 'ok' })
  t.equal(target.received.length, 1)
})

t.test('run refuses an unknown type or a config that fails its schema', async t => {
  const actions = registry(t)
  const ctx = testContext(testServices())
  t.same(await actions.run(event, { type: 'fax' }, ctx), { ok: false, kind: 'permanent', code: 'CONFIG', message: "unknown action type 'fax'" })
  t.same(await actions.run(event, { type: 'webhook', url: 'https://x.example.com', method: 'TRACE' }, ctx),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'invalid webhook config: method: must be one of POST, PUT, PATCH' })
})

t.test('custom handlers: value = success, throw = transient, permanent: true = permanent', async t => {
  const seen: unknown[] = []
  const actions = registry(t, testServices(), {
    remember: async (e, config, ctx) => { seen.push([e.entity_id, config.tag, ctx.idempotencyKey]); return { stored: true } },
    quiet: () => undefined,
    flaky: async () => { throw new Error('upstream busy') },
    broken: () => { throw Object.assign(new Error('no such account'), { permanent: true, code: 'NO_ACCOUNT' }) }
  })
  const ctx = testContext(testServices())
  t.same(await actions.run(event, { type: 'remember', tag: 'x' }, ctx), { ok: true, response: '{"stored":true}' })
  t.same(seen, [['42', 'x', ctx.idempotencyKey]])
  t.same(await actions.run(event, { type: 'quiet' }, ctx), { ok: true })
  t.same(await actions.run(event, { type: 'flaky' }, ctx), { ok: false, kind: 'transient', code: 'CUSTOM_ERROR', message: 'upstream busy' })
  t.same(await actions.run(event, { type: 'broken' }, ctx), { ok: false, kind: 'permanent', code: 'NO_ACCOUNT', message: 'no such account' })
})

t.test('a custom handler that never settles ends at the timeout', async t => {
  const actions = registry(t, testServices(), { stuck: () => new Promise(() => {}) })
  const outcome = await actions.run(event, { type: 'stuck' }, testContext(testServices(), { timeoutMs: 50 }))
  t.same(outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', message: 'timed out after 50 ms', timedOut: true })
  const controller = new AbortController()
  const pending = actions.run(event, { type: 'stuck' }, testContext(testServices(), { signal: controller.signal }))
  controller.abort()
  t.same(await pending, { ok: false, kind: 'transient', code: 'CANCELLED', message: 'cancelled' })
})

t.test('redact and render hide secrets for every action type', async t => {
  const actions = registry(t, testServices(), { crm: () => null })
  t.same(actions.redact({ type: 'webhook', url: 'https://x.example.com', headers: { 'X-Key': 'k' }, signing_secret: 's' }),
    { type: 'webhook', url: 'https://x.example.com', headers: { 'X-Key': REDACTED }, signing_secret: REDACTED })
  t.same(actions.redact({ type: 'slack', webhook_url: 'https://hooks.slack.com/services/a/b/c' }), { type: 'slack', webhook_url: REDACTED })
  t.same(actions.redact({ type: 'log', level: 'warn' }), { type: 'log', level: 'warn' })
  // Custom configs have no schema: keys that usually hold secrets are hidden, at any depth.
  t.same(actions.redact({ type: 'crm', account: 'acme', api_key: 'k1', auth: { password: 'p', user: 'u' }, tokens: ['t'] }),
    { type: 'crm', account: 'acme', api_key: REDACTED, auth: { password: REDACTED, user: 'u' }, tokens: REDACTED })
  const rendered = await actions.render(event, { type: 'crm', account: 'acme', secret: 's' }, testContext(testServices()))
  t.same(rendered, { method: 'CUSTOM', url: null, headers: {}, body: { type: 'crm', account: 'acme', secret: REDACTED } })
  const webhook = await actions.render(event, { type: 'webhook', url: 'https://x.example.com', signing_secret: 's' }, testContext(testServices()))
  t.equal(webhook.headers['webhook-signature'], REDACTED)
})
