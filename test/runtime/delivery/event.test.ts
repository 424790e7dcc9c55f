import t from 'tap'
import type { ChangeLogRow } from '../../../lib/model.js'
import { UnknownModificationTypeError, UnreadableChangeError, diffImages, parseStoredEvent, toEnvelope, toEvent } from '../../../lib/runtime/delivery/event.js'

function row (over: Partial<ChangeLogRow> = {}): ChangeLogRow {
  return {
    pk_entity_change_log: '1001',
    id: '5f0c2c1e-0000-4000-8000-000000000001',
    object_type: 'orders',
    object_id: '42',
    modification_type: 'UPDATE',
    object_data: { id: 42, status: 'paid', total: 100, customer: { tier: 'gold', tags: ['a'] } },
    object_data_before: { id: 42, status: 'new', total: 100, customer: { tier: 'gold', tags: ['a'] } },
    updated_fields: ['status'],
    tenant_id: 'acme',
    user_id: 'u-7',
    trace_id: 'trace-1',
    extra_metadata: null,
    created_at: new Date('2024-05-01T10:00:00.123Z'),
    txid: '777',
    ...over
  }
}

t.test('common fields', async t => {
  const event = toEvent(row())
  t.equal(event.event_id, '5f0c2c1e-0000-4000-8000-000000000001', 'event_id is the row uuid')
  t.equal(event.change_log_id, '1001')
  t.equal(event.entity_type, 'orders')
  t.equal(event.entity_id, '42')
  t.equal(event.tenant_id, 'acme')
  t.equal(event.user_id, 'u-7')
  t.equal(event.trace_id, 'trace-1')
  t.equal(event.timestamp, '2024-05-01T10:00:00.123Z')
  t.equal(toEvent(row({ tenant_id: null, user_id: null, trace_id: null })).tenant_id, null)
})

t.test('INSERT: before null, changes null', async t => {
  const data = { id: 1, status: 'new' }
  const event = toEvent(row({ modification_type: 'INSERT', object_data: data, object_data_before: { stale: true } }))
  t.equal(event.event_type, 'INSERT')
  t.equal(event.data, data, 'the after image, not copied')
  t.equal(event.before, null)
  t.equal(event.changes, null)
})

t.test('UPDATE: before image and every changed key', async t => {
  const event = toEvent(row())
  t.equal(event.event_type, 'UPDATE')
  t.same(event.before, row().object_data_before)
  t.same(event.changes, { status: { old: 'new', new: 'paid' } }, 'unchanged keys, deep ones included, are left out')
})

t.test('UPDATE: nested objects and arrays are compared deeply', async t => {
  const event = toEvent(row({
    object_data: { customer: { tier: 'gold', tags: ['a', 'b'] }, items: [{ q: 1 }], meta: { x: { y: 1 } } },
    object_data_before: { customer: { tier: 'gold', tags: ['a'] }, items: [{ q: 2 }], meta: { x: { y: 1 } } }
  }))
  t.same(event.changes, {
    customer: { old: { tier: 'gold', tags: ['a'] }, new: { tier: 'gold', tags: ['a', 'b'] } },
    items: { old: [{ q: 2 }], new: [{ q: 1 }] }
  })
})

t.test('UPDATE: keys on one side only read as null there', async t => {
  const event = toEvent(row({
    object_data: { kept: 1, added: 'x', added_null: null, type_change: '1' },
    object_data_before: { kept: 1, removed: 'y', removed_null: null, type_change: 1 }
  }))
  t.same(event.changes, {
    removed: { old: 'y', new: null },
    added: { old: null, new: 'x' },
    type_change: { old: 1, new: '1' }
  }, 'absent and null are the same; 1 and "1" are not')
})

t.test('UPDATE without a before image: before and changes null', async t => {
  const event = toEvent(row({ object_data_before: null }))
  t.equal(event.before, null)
  t.equal(event.changes, null)
  t.same(event.data, row().object_data)
})

t.test('UPDATE with identical images: no changes, but an object', async t => {
  const image = { a: 1, b: { c: [1, 2] } }
  t.same(toEvent(row({ object_data: image, object_data_before: structuredClone(image) })).changes, {})
})

t.test('DELETE: data and before are both the last state, changes null', async t => {
  const last = { id: 42, status: 'cancelled' }
  const event = toEvent(row({ modification_type: 'DELETE', object_data: null, object_data_before: last }))
  t.equal(event.event_type, 'DELETE')
  t.same(event.data, last)
  t.same(event.before, last)
  t.equal(event.changes, null)
  const fallback = toEvent(row({ modification_type: 'DELETE', object_data: last, object_data_before: null }))
  t.same([fallback.data, fallback.before], [last, last], 'a trigger that logged the row as object_data')
  const none = toEvent(row({ modification_type: 'DELETE', object_data: null, object_data_before: null }))
  t.same([none.data, none.before, none.changes], [null, null, null])
})

t.test('CUSTOM: data as given, before when given, no changes', async t => {
  const event = toEvent(row({ modification_type: 'CUSTOM', object_data: { kind: 'ping' }, object_data_before: null }))
  t.equal(event.event_type, 'CUSTOM')
  t.same(event.data, { kind: 'ping' })
  t.equal(event.before, null)
  t.equal(event.changes, null)
  const withBefore = toEvent(row({ modification_type: 'CUSTOM', object_data: { a: 2 }, object_data_before: { a: 1 } }))
  t.same([withBefore.before, withBefore.changes], [{ a: 1 }, null])
})

t.test('modification_type is upper-cased', async t => {
  t.equal(toEvent(row({ modification_type: 'update' })).event_type, 'UPDATE')
  t.equal(toEvent(row({ modification_type: 'Insert' })).event_type, 'INSERT')
  t.equal(toEvent(row({ modification_type: 'delete' })).event_type, 'DELETE')
  t.equal(toEvent(row({ modification_type: 'custom' })).event_type, 'CUSTOM')
})

t.test('an unknown modification_type throws UnknownModificationTypeError', async t => {
  for (const type of ['TRUNCATE', '', 'UPSERT', ' UPDATE']) {
    t.throws(() => toEvent(row({ modification_type: type })), UnknownModificationTypeError, JSON.stringify(type))
  }
  try {
    toEvent(row({ modification_type: 'truncate' }))
    t.fail('did not throw')
  } catch (err) {
    t.ok(err instanceof UnknownModificationTypeError)
    t.ok(err instanceof Error)
    t.match(err, {
      name: 'UnknownModificationTypeError',
      modificationType: 'truncate',
      changeLogId: '1001',
      message: "unknown modification_type 'truncate' in change-log row 1001"
    })
  }
})

t.test('an image that is not a JSON object, or a key too long to index, is refused with its code', async t => {
  for (const [column, value, kind] of [['object_data', 5, 'a number'], ['object_data', [1], 'an array'], ['object_data_before', 'x', 'a string'], ['object_data', true, 'a boolean']] as const) {
    t.throws(() => toEvent(row({ [column]: value } as never)), { code: 'INVALID_DATA', message: `${column} of change-log row 1001 is ${kind}, not a JSON object` })
  }
  t.throws(() => toEvent(row({ object_id: 'é'.repeat(1000) })), { code: 'ENTITY_KEY_TOO_LONG', message: /take 2006 bytes; at most 2000/ })
  t.equal(toEvent(row({ object_id: 'k'.repeat(1990) })).entity_id.length, 1990, 'a long key that fits is kept')
  t.ok(new UnknownModificationTypeError('x', '1') instanceof UnreadableChangeError)
  t.equal(toEvent(row({ trace_id: 't'.repeat(300) })).trace_id, null, 'a trace id no log index could hold is dropped, not the event')
  t.equal(toEvent(row({ trace_id: 'abc' })).trace_id, 'abc')
})

t.test('a stored event is checked against its schema, never cast', async t => {
  const stored = JSON.parse(JSON.stringify(toEvent(row())))
  t.same(parseStoredEvent(stored), toEvent(row()))
  t.same(parseStoredEvent({ ...stored, event_type: 'MERGE' }), { problem: 'stored event event_type must be one of INSERT, UPDATE, DELETE, CUSTOM, READ' })
  t.same(parseStoredEvent({ ...stored, event_id: 'nope' }), { problem: 'stored event event_id must be a UUID' })
  t.same(parseStoredEvent({ ...stored, data: [1] }), { problem: 'stored event data must be object or null' })
  t.match(parseStoredEvent({ event_id: stored.event_id, event_type: 'INSERT', entity_type: 'order', entity_id: '1', timestamp: stored.timestamp }),
    { tenant_id: null, data: null, changes: null, change_log_id: null }, 'missing optional members read as null')
})

t.test('diffImages against a missing after image', async t => {
  t.same(diffImages({ a: 1, b: null }, null), { a: { old: 1, new: null } })
})

t.test('toEnvelope: the event without internal ids, plus the observer', async t => {
  const event = toEvent(row())
  const envelope = toEnvelope(event, { id: 'obs-1', name: 'paid orders', extra: 'dropped' } as never)
  t.same(Object.keys(envelope), ['event_id', 'event_type', 'entity_type', 'entity_id', 'tenant_id', 'user_id',
    'timestamp', 'data', 'before', 'changes', 'observer'])
  t.same(envelope.observer, { id: 'obs-1', name: 'paid orders' })
  t.equal(envelope.data, event.data)
  t.same(envelope.changes, { status: { old: 'new', new: 'paid' } })
  t.notOk('change_log_id' in envelope)
  t.notOk('trace_id' in envelope)
  t.same(JSON.parse(JSON.stringify(envelope)).timestamp, '2024-05-01T10:00:00.123Z', 'serialises as JSON')
})
