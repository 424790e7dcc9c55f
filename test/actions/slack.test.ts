import t from 'tap'
import { createHttpClient } from '../../lib/actions/http-client.js'
import { createSlackAction } from '../../lib/actions/slack.js'
import type { SlackConfig } from '../../lib/actions/slack.js'
import { REDACTED } from '../../lib/actions/types.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'

type T = Parameters<typeof startHttpTarget>[0]

function slack (t: T, allowPrivate = true) {
  const http = createHttpClient({ allowPrivate })
  t.teardown(() => http.close())
  return createSlackAction(http)
}

const event = sampleEnvelope()

t.test('posts the rendered message and channel', async t => {
  const target = await startHttpTarget(t)
  const outcome = await slack(t).run(event, {
    type: 'slack',
    webhook_url: `${target.url}/services/T0/B0/secret`,
    channel: '#orders',
    message_template: 'Order {{ entity_id }} is now *{{ changes.status.new }}*'
  }, testContext(testServices()))
  t.same(outcome, { ok: true, statusCode: 200, response: 'ok' })
  t.equal(target.received[0].url, '/services/T0/B0/secret')
  t.equal(target.received[0].headers['content-type'], 'application/json')
  t.same(JSON.parse(target.received[0].body), { text: 'Order 42 is now *shipped*', channel: '#orders' })
})

t.test('the default message names the event, the entity and the observer', async t => {
  const target = await startHttpTarget(t)
  const services = testServices({ env: { SLACK_URL: `${target.url}/hook` } })
  await slack(t).run(event, { type: 'slack', webhook_url_env: 'SLACK_URL' }, testContext(services))
  t.same(JSON.parse(target.received[0].body), { text: 'UPDATE on order 42 (observer ship-notify)' })
})

t.test('Slack refusing the message is a permanent failure; a missing variable is CONFIG', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(404).end('no_service') })
  const action = slack(t)
  t.match(await action.run(event, { type: 'slack', webhook_url: target.url }, testContext(testServices())),
    { ok: false, kind: 'permanent', code: 'HTTP_404', response: 'no_service' })
  t.same(await action.run(event, { type: 'slack', webhook_url_env: 'SLACK_URL' }, testContext(testServices())),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'environment variable SLACK_URL (webhook_url_env) is not set' })
})

t.test('a failed post keeps its request with the URL\'s secret path hidden, and carries the attempt\'s trace', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(500).end() })
  const trace = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', flags: '01', tracestate: undefined, context: undefined }
  const outcome = await slack(t).run(event, { type: 'slack', webhook_url: `${target.url}/services/T0/B0/secret` }, testContext(testServices(), { trace }))
  t.match(target.received[0].headers.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
  t.match(outcome, {
    ok: false,
    code: 'HTTP_500',
    request: { method: 'POST', url: `${target.url}/REDACTED`, headers: { 'content-type': 'application/json', traceparent: target.received[0].headers.traceparent }, body: target.received[0].body }
  })
  t.notOk(JSON.stringify(outcome).includes('secret'))
})

t.test('the webhook URL is a secret: redacted, and shown by origin only in a dry run', async t => {
  const action = slack(t)
  const config: SlackConfig = { type: 'slack', webhook_url: 'https://hooks.slack.com/services/T0/B0/xyz', channel: '#ops' }
  t.same(action.redact(config), { type: 'slack', webhook_url: REDACTED, channel: '#ops' })
  t.same(action.redact({ type: 'slack', webhook_url_env: 'SLACK_URL' }), { type: 'slack', webhook_url_env: 'SLACK_URL' })
  const rendered = await action.render(event, config, testContext(testServices()))
  t.same(rendered, {
    method: 'POST',
    url: `https://hooks.slack.com/${REDACTED}`,
    headers: { 'content-type': 'application/json' },
    body: { text: 'UPDATE on order 42 (observer ship-notify)', channel: '#ops' }
  })
  const unset = await action.render(event, { type: 'slack', webhook_url_env: 'SLACK_URL' }, testContext(testServices()))
  t.equal(unset.url, null)
})

t.test('check refuses private URLs and bad templates', async t => {
  const action = slack(t)
  const strict = testServices({ allowPrivate: false })
  t.equal(action.check?.({ type: 'slack', webhook_url: 'https://hooks.slack.com/services/x' }, strict), null)
  t.equal(action.check?.({ type: 'slack', webhook_url: 'http://10.1.1.1/x' }, strict), 'webhook_url: refused: address 10.1.1.1 is private (10.0.0.0/8)')
  t.equal(action.check?.({ type: 'slack' }, strict), 'webhook_url: one of webhook_url or webhook_url_env is required')
  t.match(action.check?.({ type: 'slack', webhook_url_env: 'S', message_template: '{{ secrets }}' }, strict), /^message_template: unknown placeholder/)
})

t.test('without allowPrivate a loopback Slack URL is never contacted', async t => {
  const target = await startHttpTarget(t)
  const outcome = await slack(t, false).run(event, { type: 'slack', webhook_url: target.url }, testContext(testServices({ allowPrivate: false })))
  t.match(outcome, { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED' })
  t.equal(target.connections(), 0)
})
