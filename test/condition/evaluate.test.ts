import t from 'tap'
import { ConditionError, checkCondition, compileCondition } from '../../lib/condition/index.js'
import type { ObserverEvent } from '../../lib/model.js'

function event (overrides: Partial<ObserverEvent> = {}): ObserverEvent {
  return {
    event_id: 'evt-1',
    event_type: 'UPDATE',
    entity_type: 'orders',
    entity_id: '42',
    tenant_id: 'acme',
    user_id: 'u-7',
    timestamp: '2024-05-01T10:00:00.000Z',
    data: {
      status: 'paid',
      total: 100,
      amount_text: '100.50',
      big: '9007199254740993',
      zip: '007',
      active: true,
      inactive: false,
      zero: 0,
      empty: '',
      nothing: null,
      tags: [],
      meta: {},
      customer: { tier: 'gold', address: { city: 'Oslo' } },
      items: [{ sku: 'A1' }, { sku: 'B2' }],
      timestamp: 'from-data',
      event_type: 'from-data'
    },
    before: { status: 'new', total: 100, customer: { tier: 'silver', address: { city: 'Oslo' } } },
    changes: { status: { old: 'new', new: 'paid' } },
    trace_id: null,
    change_log_id: '7',
    ...overrides
  }
}

const holds = (source: string, ev: ObserverEvent = event()) => compileCondition(source)(ev)

t.test('a missing field reads as null', async t => {
  t.equal(holds('missing == null'), true)
  t.equal(holds('null == missing'), true)
  t.equal(holds('nothing == null'), true, 'an explicit null')
  t.equal(holds('missing != null'), false)
  t.equal(holds('missing == 0'), false)
  t.equal(holds("missing == ''"), false)
  t.equal(holds('missing == false'), false)
  t.equal(holds("missing != 'x'"), true)
  t.equal(holds('missing > 0 || missing < 0 || missing >= 0 || missing <= 0'), false, 'ordering with null is false')
  t.equal(holds('customer.missing.deeper == null'), true)
  t.equal(holds('status.length == null'), true, 'no path into a string')
  t.equal(holds('status == null', event({ data: null })), true, 'no data at all')
})

t.test('numbers compare numerically', async t => {
  t.equal(holds('100 == 100.0'), true)
  t.equal(holds('total == 100.0'), true)
  t.equal(holds('total == 1e2'), true)
  t.equal(holds('total != 100'), false)
  t.equal(holds('total > 99.5 && total < 100.5 && total >= 100 && total <= 100'), true)
  t.equal(holds('total > 100 || total < 100'), false)
  t.equal(holds('-1 < 0 && 0.5 > .25'), true)
})

t.test('numeric strings compare as numbers', async t => {
  t.equal(holds("total == '100'"), true, 'number against numeric string')
  t.equal(holds('amount_text == 100.5'), true, 'Postgres numeric text')
  t.equal(holds("amount_text == '100.5'"), true, 'two numeric strings')
  t.equal(holds('amount_text > 100'), true)
  t.equal(holds("'10' > '9'"), true, 'by value, not by text')
  t.equal(holds("zip == '7'"), true, 'leading zeros do not matter')
  t.equal(holds("'1e3' == 1000"), true)
  t.equal(holds("big == '9007199254740992'"), false, 'integer strings compare exactly, beyond 2^53')
  t.equal(holds("big > '9007199254740992'"), true)
  t.equal(holds("big == '9007199254740993'"), true)
  t.equal(holds("' 5' == 5"), false, 'blanks make it text')
  t.equal(holds("'' == 0"), false, 'the empty string is not zero')
  t.equal(holds("'0x10' == 16"), false, 'no hex')
  t.equal(holds("'Infinity' > 1"), false)
  t.equal(holds("'1e999' > 1"), false, 'out of range is not a number')
})

t.test('ordering between non-numbers is false, strings included', async t => {
  t.equal(holds("'b' > 'a'"), false)
  t.equal(holds("'a' < 'b'"), false)
  t.equal(holds("status >= 'paid'"), false, 'even when equal')
  t.equal(holds("status <= 'paid'"), false)
  t.equal(holds('active > false'), false)
  t.equal(holds("total > 'abc'"), false)
  t.equal(holds("'abc' < total"), false)
  t.equal(holds('customer > 1'), false)
})

t.test('equality does not convert between types', async t => {
  t.equal(holds("active == 'true'"), false)
  t.equal(holds('active == 1'), false)
  t.equal(holds('zero == false'), false)
  t.equal(holds('nothing == false'), false)
  t.equal(holds("status == 'paid'"), true)
  t.equal(holds("status == 'PAID'"), false, 'strings are case-sensitive')
  t.equal(holds("status != 'paid'"), false)
  t.equal(holds('data.customer == before.customer'), false, 'objects compare structurally')
  t.equal(holds('data.customer.address == before.customer.address'), true)
  t.equal(holds('tags == meta'), false, 'an array is not an object')
})

t.test('path resolution', async t => {
  t.equal(holds("data.status == 'paid'"), true)
  t.equal(holds("before.status == 'new'"), true)
  t.equal(holds("changes.status.old == 'new' && changes.status.new == 'paid'"), true)
  t.equal(holds("customer.tier == 'gold' && data.customer.tier == 'gold'"), true, 'bare paths read data')
  t.equal(holds("customer.address.city == 'Oslo'"), true)
  t.equal(holds("items.1.sku == 'B2' && items.length == 2"), true, 'array index and length')
  t.equal(holds("event_type == 'UPDATE'"), true, 'event fields win over data')
  t.equal(holds("data.event_type == 'from-data'"), true)
  t.equal(holds("entity_type == 'orders' && entity_id == '42' && entity_id == 42"), true)
  t.equal(holds("tenant_id == 'acme' && user_id == 'u-7' && event_id == 'evt-1'"), true)
  t.equal(holds("timestamp == 'from-data'"), true, 'timestamp is not one of the event fields')
  t.equal(holds('before == null', event({ event_type: 'INSERT', before: null })), true, 'a bare member name')
  t.equal(holds('data && before && changes'), true)
  t.equal(holds('changes', event({ changes: null })), false)
  t.equal(holds('tenant_id == null', event({ tenant_id: null })), true)
  t.equal(holds('constructor == null && toString == null && __proto__ == null'), true, 'no prototype reads')
  t.equal(holds('status.constructor == null'), true)
})

t.test('a bare path or literal in boolean position is truth-tested', async t => {
  t.equal(holds('active'), true)
  t.equal(holds('data.active'), true)
  for (const falsy of ['inactive', 'zero', 'empty', 'nothing', 'missing', 'false', '0', "''", 'null']) {
    t.equal(holds(falsy), false, falsy)
  }
  for (const truthy of ['status', 'total', 'tags', 'meta', 'customer', 'true', '1', "'x'", '-1']) {
    t.equal(holds(truthy), true, truthy)
  }
  t.equal(holds('!inactive && !missing'), true)
})

t.test('logical operators', async t => {
  t.equal(holds('active && total == 100'), true)
  t.equal(holds('active AND inactive'), false)
  t.equal(holds('inactive || active'), true)
  t.equal(holds('inactive or zero'), false)
  t.equal(holds('!active'), false)
  t.equal(holds('NOT inactive'), true)
  t.equal(holds('not (active and inactive)'), true)
  t.equal(holds("!status == 'new'"), true, '! negates the comparison')
  t.equal(holds('inactive && inactive || active'), true, '&& before ||')
  t.equal(holds('inactive && (inactive || active)'), false)
  t.equal(holds('active && active && active && inactive'), false)
  t.equal(holds('inactive || zero || empty || total'), true)
})

t.test('has_field', async t => {
  t.equal(holds('has_field(status)'), true)
  t.equal(holds("has_field('status')"), true)
  t.equal(holds('has_field(nothing)'), true, 'present even when null')
  t.equal(holds('has_field(missing)'), false)
  t.equal(holds("has_field('customer.address.city')"), true)
  t.equal(holds('has_field(customer.zip)'), false)
  t.equal(holds('has_field(data.status)'), true, 'a leading data. is accepted')
  t.equal(holds('has_field(items.0)'), true)
  t.equal(holds('has_field(status.x)'), false, 'a string has no fields')
  t.equal(holds('has_field(constructor)'), false)
  t.equal(holds('has_field(status)', event({ data: null })), false)
  t.equal(holds("has_field('data')", event({ data: { data: 1 } })), true, 'a lone data is a field name')
})

t.test('field_changed and friends', async t => {
  t.equal(holds('field_changed(status)'), true)
  t.equal(holds('field_changed(data.status)'), true)
  t.equal(holds('field_changed(total)'), false, 'same value')
  t.equal(holds("field_changed('customer.address')"), false, 'deep-equal objects are unchanged')
  t.equal(holds('field_changed(customer)'), true, 'a nested member differs')
  t.equal(holds('field_changed(customer.tier)'), true)
  t.equal(holds('field_changed(active)'), true, 'absent before, present now')
  t.equal(holds('field_changed(missing)'), false, 'absent on both sides')
  t.equal(holds('field_changed(nothing)'), false, 'null now, absent before: both read as null')
  t.equal(holds("field_changed_to(status, 'paid')"), true)
  t.equal(holds("field_changed_to(status, 'new')"), false)
  t.equal(holds('field_changed_to(total, 100)'), false, 'unchanged, even though equal')
  t.equal(holds("field_changed_from(status, 'new')"), true)
  t.equal(holds("field_changed_from(status, 'paid')"), false)
  t.equal(holds("field_changed_to('customer.tier', 'gold') && field_changed_from(customer.tier, 'silver')"), true)
  t.equal(holds('field_changed_from(active, null)'), true, 'absent before reads as null')
  const numeric = event({ data: { n: '5' }, before: { n: 4 } })
  t.equal(holds('field_changed_to(n, 5) && field_changed_from(n, 4.0)', numeric), true, 'values compare like ==')
  t.equal(holds('field_changed(n)', event({ data: { n: '5' }, before: { n: 5 } })), true, 'changes compare strictly')
})

t.test('field_changed needs an UPDATE (or CUSTOM) event with a before image', async t => {
  t.equal(holds('field_changed(status)', event({ before: null })), false)
  t.equal(holds("field_changed_to(status, 'paid')", event({ before: null })), false)
  t.equal(holds('field_changed(status)', event({ event_type: 'INSERT' })), false)
  t.equal(holds('field_changed(status)', event({ event_type: 'DELETE' })), false)
  t.equal(holds('field_changed(status)', event({ event_type: 'CUSTOM' })), true)
})

t.test('compileCondition', async t => {
  for (const blank of [null, undefined, '', '   \n']) {
    t.equal(compileCondition(blank)(event({ data: null })), true, `${JSON.stringify(blank)} always holds`)
  }
  t.throws(() => compileCondition('status =='), ConditionError, 'invalid source throws at compile time')
  const predicate = compileCondition("status == 'paid'")
  t.same([predicate(event()), predicate(event({ data: { status: 'new' } })), predicate(event())], [true, false, true],
    'one compiled predicate serves many events')
})

t.test('evaluation never throws', async t => {
  const hostile = event()
  Object.defineProperty(hostile, 'data', { get () { throw new Error('boom') } })
  t.equal(holds('status == 1', hostile), false, 'a throwing event is no match')
  const odd = [event({ data: 'text' as never }), event({ data: [1, 2] as never }), event({ before: 5 as never }),
    event({ data: { customer: 'x' } }), event({ event_type: undefined as never, tenant_id: undefined as never })]
  const source = "status == 'x' || customer.tier > 1 || has_field(customer.tier) || field_changed(a.b) || tenant_id == null"
  for (const [i, ev] of odd.entries()) t.doesNotThrow(() => holds(source, ev), `odd event ${i}`)
  t.equal(holds("has_field('0')", event({ data: ['a'] as never })), true, 'arrays are walked like objects')
})

t.test('checkCondition', async t => {
  t.same(checkCondition("status == 'paid'"), { ok: true })
  t.same(checkCondition(null), { ok: true })
  t.same(checkCondition(''), { ok: true })
  t.same(checkCondition('status == '), { ok: false, message: 'unexpected end of condition at position 10', position: 10 })
  t.same(checkCondition('foo(x)'), { ok: false, message: "unknown function 'foo' at position 0", position: 0 })
  t.same(checkCondition(42 as never), { ok: false, message: 'condition must be a string', position: 0 })
})

t.test('ConditionError', async t => {
  const err = new ConditionError('unexpected token at position 3', 3)
  t.ok(err instanceof Error)
  t.equal(err.name, 'ConditionError')
  t.equal(err.position, 3)
  t.equal(ConditionError.at('bad', 9).message, 'bad at position 9')
})
