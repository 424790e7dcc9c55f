import t from 'tap'
import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { logAction } from '../../lib/actions/log.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'

// A real pino logger (Fastify's) writing JSON lines into an array.
function capturingLog (level = 'trace') {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString('utf8')))
      callback()
    }
  })
  return { lines, log: Fastify({ logger: { level, stream } }).log }
}

const event = sampleEnvelope()
const ids = { event_id: event.event_id, observer_id: event.observer.id, entity_type: 'order', entity_id: '42' }

t.test('writes one structured line at the configured level', async t => {
  const { lines, log } = capturingLog()
  const ctx = testContext(testServices({ log }))
  t.same(await logAction.run(event, { type: 'log', level: 'warn', message_template: 'order {{ entity_id }} is {{ data.status }}' }, ctx), { ok: true })
  t.equal(lines.length, 1)
  t.match(lines[0], { level: 40, msg: 'order 42 is shipped', ...ids })
})

t.test('defaults to info and a message naming the observer and the event', async t => {
  const { lines, log } = capturingLog()
  await logAction.run(event, { type: 'log' }, testContext(testServices({ log })))
  t.match(lines[0], { level: 30, msg: 'observer ship-notify: UPDATE on order 42', ...ids })
})

t.test('a level below the logger\'s threshold writes nothing', async t => {
  const { lines, log } = capturingLog('info')
  t.same(await logAction.run(event, { type: 'log', level: 'debug' }, testContext(testServices({ log }))), { ok: true })
  t.equal(lines.length, 0)
})

t.test('render and check', async t => {
  const rendered = await logAction.render(event, { type: 'log', level: 'error', message_template: '{{ data.total }}' }, testContext(testServices()))
  t.same(rendered, { method: 'LOG', url: null, headers: {}, body: { level: 'error', ...ids, msg: '99.5' } })
  t.equal(logAction.check?.({ type: 'log', message_template: 'ok {{ data.x }}' }, testServices()), null)
  t.match(logAction.check?.({ type: 'log', message_template: '{{ env.SECRET }}' }, testServices()), /^message_template: unknown placeholder/)
})
