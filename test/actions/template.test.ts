import t from 'tap'
import { checkJsonTemplate, checkTemplate, renderJsonTemplate, renderText } from '../../lib/actions/template.js'
import { sampleEnvelope } from '../helpers/action-context.js'

const event = sampleEnvelope()

t.test('renderText substitutes envelope paths, spaces optional', async t => {
  t.equal(renderText('{{ event_type }} {{entity_type}}/{{  entity_id  }}', event), 'UPDATE order/42')
  t.equal(renderText('{{ event_id }} {{ tenant_id }} {{ user_id }} {{ timestamp }}', event),
    '7d4c6f3e-7d6a-4a39-9a43-0f9b1c3f2a10 acme u-1 2024-05-01T12:00:00.000Z')
  t.equal(renderText('{{ data.status }} was {{ before.status }}; {{ changes.status.old }} -> {{ changes.status.new }}', event),
    'shipped was paid; paid -> shipped')
  t.equal(renderText('by {{ observer.name }} ({{ observer.id }})', event), 'by ship-notify (2f1e0c4b-5a7d-4e8f-9b1a-3c2d4e5f6a7b)')
  t.equal(renderText('{{ data.customer.tier }} {{ data.total }}', event), 'gold 99.5')
})

t.test('renderText: missing paths are empty, objects are JSON', async t => {
  t.equal(renderText('[{{ data.nope }}][{{ data.status.deeper }}][{{ nothing }}]', event), '[][][]')
  t.equal(renderText('[{{ before.status }}]', sampleEnvelope({ before: null })), '[]')
  t.equal(renderText('{{ data.customer }}', event), '{"tier":"gold"}')
  t.equal(renderText('{{ changes }}', event), '{"status":{"old":"paid","new":"shipped"}}')
  // Only the event's own fields are reachable, never inherited object members.
  t.equal(renderText('[{{ data.constructor }}][{{ data.__proto__ }}][{{ data.toString }}]', event), '[][][]')
})

t.test('renderText leaves text that is not a placeholder alone', async t => {
  t.equal(renderText('{ {{ data.status }} } {{ not a path }} {{', event), '{ shipped } {{ not a path }} {{')
})

t.test('renderJsonTemplate: a whole-value placeholder becomes the value\'s JSON', async t => {
  const body = renderJsonTemplate('{"total": {{ data.total }}, "customer": {{data.customer}}, "status": {{ data.status }}, "gone": {{ data.nope }} }', event)
  t.same(JSON.parse(body), { total: 99.5, customer: { tier: 'gold' }, status: 'shipped', gone: null })
  t.same(JSON.parse(renderJsonTemplate('{{ changes }}', event)), { status: { old: 'paid', new: 'shipped' } })
})

t.test('renderJsonTemplate: inside a string, the escaped text without quotes', async t => {
  const tricky = sampleEnvelope({ data: { name: 'Ada "the first"\\\n\u0001', n: 5, obj: { a: 1 } } })
  const body = renderJsonTemplate('{"greeting": "hi {{ data.name }}!", "n": "#{{ data.n }}", "obj": "{{ data.obj }}", "gone": "[{{ data.nope }}]"}', tricky)
  t.same(JSON.parse(body), { greeting: 'hi Ada "the first"\\\n\u0001!', n: '#5', obj: '{"a":1}', gone: '[]' })
})

t.test('a value can never add keys to a JSON body', async t => {
  const attack = sampleEnvelope({ data: { name: 'x", "admin": true, "y": "' } })
  const inString = JSON.parse(renderJsonTemplate('{"name": "{{ data.name }}", "role": "user"}', attack))
  t.same(Object.keys(inString), ['name', 'role'])
  t.equal(inString.name, 'x", "admin": true, "y": "')
  const whole = JSON.parse(renderJsonTemplate('{"name": {{ data.name }}, "role": "user"}', attack))
  t.same(Object.keys(whole), ['name', 'role'])
  t.equal(whole.name, 'x", "admin": true, "y": "')
})

t.test('escaped quotes in the template do not confuse string tracking', async t => {
  const body = renderJsonTemplate('{"a": "say \\"{{ data.status }}\\"", "b": {{ data.total }}, "c": "\\\\", "d": {{ data.id }}}', event)
  t.same(JSON.parse(body), { a: 'say "shipped"', b: 99.5, c: '\\', d: 42 })
})

t.test('the same template renders each event afresh', async t => {
  const template = '{"status": "{{ data.status }}"}'
  t.same(JSON.parse(renderJsonTemplate(template, event)), { status: 'shipped' })
  t.same(JSON.parse(renderJsonTemplate(template, sampleEnvelope({ data: { status: 'lost' } }))), { status: 'lost' })
})

t.test('checkJsonTemplate accepts bodies that always render to JSON', async t => {
  t.equal(checkJsonTemplate('{"id": {{ entity_id }}, "note": "{{ data.note }}", "all": {{ data }}}'), null)
  t.equal(checkJsonTemplate('[{{ data.a }}, {{ data.b }}]'), null)
})

t.test('checkJsonTemplate names what is wrong', async t => {
  t.match(checkJsonTemplate('{"a": {{ data.a }}'), /^does not render to valid JSON: /)
  t.match(checkJsonTemplate('{ {{ data.key }}: 1 }'), /^does not render to valid JSON: /, 'a placeholder cannot be an unquoted key')
  t.match(checkJsonTemplate('{"a": 1{{ data.a }}}'), /^does not render to valid JSON: /)
  t.equal(checkJsonTemplate('{"a": {{ payload.a }}}'),
    "unknown placeholder '{{ payload.a }}': a path starts with one of event_id, event_type, entity_type, entity_id, tenant_id, user_id, timestamp, data, before, changes, observer")
  t.equal(checkJsonTemplate('{"a": "{{ data.a b }}"}'), 'malformed placeholder at position 7: expected {{ path }} with a dotted path')
})

t.test('checkTemplate checks plain-text templates the same way', async t => {
  t.equal(checkTemplate('Order {{ entity_id }} is {{ data.status }}'), null)
  t.equal(checkTemplate('no placeholders'), null)
  t.match(checkTemplate('{{ evil }}'), /^unknown placeholder '\{\{ evil \}\}'/)
})
