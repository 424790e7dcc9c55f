// A `nats` action through the admin API: save-time validation, redaction and the dry run.
import t from 'tap'
import { build } from '../helper.js'
import { call, createObserver, observerBody } from '../helpers/routes.js'
import { REDACTED } from '../../lib/actions/types.js'

t.test('save-time validation names the field; a private server needs network.allowPrivate', async (t) => {
  const { app } = await build(t, { network: { allowPrivate: false }, runtime: { start: false } })
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ type: 'nats' }, 'body/actions/0/servers: one of servers or servers_env is required'],
    [{ type: 'nats', servers: 'https://bus.example.com' }, 'body/actions/0/servers: must use nats:// or tls://, not https'],
    [{ type: 'nats', servers: 'nats://127.0.0.1:4222' }, 'body/actions/0/servers: refused: address 127.0.0.1 is loopback (127.0.0.0/8)'],
    [{ type: 'nats', servers: 'nats://bus.example.com', subject: 'orders.*' }, 'body/actions/0/subject: must be dot-separated tokens without spaces or wildcards (* >), e.g. orders.{{ event_type }}']
  ]
  for (const [action, message] of cases) {
    const res = await call(app, 'POST', '', observerBody({ actions: [action] }))
    t.equal(res.statusCode, 400, message)
    t.equal(res.json().message, message)
  }
  t.equal((await call(app, 'POST', '', observerBody({ actions: [{ type: 'nats', servers: 'nats://bus.example.com:4222' }] }))).statusCode, 201)
  const allowing = await build(t, { runtime: { start: false } })
  t.equal((await call(allowing.app, 'POST', '', observerBody({ actions: [{ type: 'nats', servers: 'nats://127.0.0.1:4222' }] }))).statusCode, 201, 'allowed with allowPrivate')
})

t.test('header values are redacted in answers and kept through a GET-then-PATCH', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const action = { type: 'nats', servers: 'nats://bus.example.com', token_env: 'NATS_TOKEN', headers: { Authorization: 'Bearer s3cret' } }
  const created = await createObserver(app, { actions: [action] })
  t.same(created.actions, [{ ...action, headers: { Authorization: REDACTED } }])
  const got = (await call(app, 'GET', `/${created.id}`)).json()
  t.notOk(JSON.stringify(got).includes('s3cret'))
  const patched = await call(app, 'PATCH', `/${created.id}`, { actions: got.actions, description: 'same secret' })
  t.equal(patched.statusCode, 200)
  const stored = (await app.observers.db.selectFrom('tb_observer').select('actions').where('id', '=', created.id).executeTakeFirstOrThrow()).actions
  t.same(stored, [action], 'the stored secret survives the round trip')
})

t.test('the dry run shows the message it would publish, and publishes nothing', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const res = await call(app, 'POST', '/test', {
    observer: observerBody({ actions: [{ type: 'nats', servers: 'nats://b.example.com,nats://a.example.com', subject: 'shop.{{ entity_type }}.{{ data.status }}', headers: { 'X-Key': 'k3y' } }] }),
    event: { event_type: 'INSERT', entity_type: 'order', entity_id: '7', data: { status: 'new order' } }
  })
  t.equal(res.statusCode, 200)
  const [{ request }] = res.json().actions
  t.match(request, {
    method: 'PUBLISH',
    url: 'nats://a.example.com:4222,nats://b.example.com:4222',
    subject: 'shop.order.new_order',
    headers: { 'X-Key': REDACTED, 'Content-Type': 'application/json', 'Nats-Msg-Id': /^msg_/, 'Observers-Event-Type': 'INSERT', 'Observers-Entity-Type': 'order', 'Observers-Entity-Id': '7' },
    body: { event_type: 'INSERT', entity_type: 'order', entity_id: '7', data: { status: 'new order' } }
  })
  t.notOk(res.body.includes('k3y'), 'no header value in the answer')
})
