import t from 'tap'
import fc from 'fast-check'
import type { ModificationType, Observer, ObserverEvent } from '../../../lib/model.js'
import { buildMatcher, ObserverIndex } from '../../../lib/runtime/observers/matcher.js'

function observer (id: string, over: Partial<Observer> = {}): Observer {
  return {
    id,
    name: id,
    description: null,
    entity_type: null,
    event_type: null,
    condition_expression: null,
    actions: [{ type: 'log' }],
    enabled: true,
    priority: 100,
    retry_config: null,
    timeout_ms: 30_000,
    ordering: 'none',
    on_dead_letter: 'skip',
    tenant_id: null,
    created_at: new Date(Date.UTC(2024, 0, 1)),
    updated_at: new Date(Date.UTC(2024, 0, 1)),
    created_by: null,
    updated_by: null,
    deleted_at: null,
    ...over
  }
}

function event (over: Partial<ObserverEvent> = {}): ObserverEvent {
  return {
    event_id: 'e-1',
    event_type: 'UPDATE',
    entity_type: 'a',
    entity_id: '1',
    tenant_id: null,
    user_id: null,
    timestamp: '2024-05-01T10:00:00.000Z',
    data: {},
    before: null,
    changes: null,
    trace_id: null,
    change_log_id: '1',
    ...over
  }
}

const ids = (matched: Array<{ observer: Observer }>): string[] => matched.map((m) => m.observer.id)

t.test('an index patched one change at a time matches as one built from the result', async (t) => {
  const definition = fc.record({
    entity_type: fc.constantFrom(null, '*', 'a', 'b'),
    event_type: fc.constantFrom(null, 'INSERT', 'UPDATE'),
    tenant_id: fc.constantFrom(null, 't1'),
    condition_expression: fc.constantFrom(null, 'x > 1', 'x <= 1', 'broken =='),
    enabled: fc.boolean(),
    deleted: fc.boolean(),
    priority: fc.integer({ min: 0, max: 3 }),
    created: fc.integer({ min: 0, max: 3 })
  })
  const change = fc.oneof(
    fc.record({ kind: fc.constant('upsert' as const), id: fc.integer({ min: 0, max: 12 }), definition }),
    fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 12 }) }),
    fc.record({ kind: fc.constant('bulk' as const), count: fc.integer({ min: 1, max: 12 }), definition })
  )
  const ev = fc.record({
    entity_type: fc.constantFrom('a', 'b', 'c'),
    event_type: fc.constantFrom('INSERT', 'UPDATE' as const),
    tenant_id: fc.constantFrom(null, 't1'),
    x: fc.integer({ min: 0, max: 3 })
  }).map(({ x, ...rest }) => event({ ...rest, data: { x } }))
  const toObserver = (id: number, d: Record<string, unknown>): Observer => {
    const { deleted, created, ...rest } = d as { deleted: boolean, created: number } & Partial<Observer>
    return observer(`o-${String(id).padStart(2, '0')}`, { ...rest, event_type: rest.event_type as ModificationType | null, deleted_at: deleted ? new Date() : null, created_at: new Date(created) })
  }
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(change, { maxLength: 30 }), fc.array(ev, { minLength: 1, maxLength: 4 }), (changes, events) => {
    const index = new ObserverIndex()
    const current = new Map<string, Observer>()
    for (const c of changes) {
      if (c.kind === 'upsert') {
        const o = toObserver(c.id, c.definition)
        current.set(o.id, o)
        index.apply([{ observer: o }])
      } else if (c.kind === 'remove') {
        const id = `o-${String(c.id).padStart(2, '0')}`
        current.delete(id)
        index.apply([], [id])
      } else {
        // more changes than a patch takes: the index rebuilds its buckets
        const many = Array.from({ length: 1001 }, (_, i) => toObserver(100 + i + c.count, c.definition))
        for (const o of many) current.set(o.id, o)
        index.apply(many.map((observer) => ({ observer })))
      }
      // read between changes, so that memoised candidates must be forgotten where a change lands
      for (const e of events) index.match(e)
    }
    const built = buildMatcher([...current.values()])
    for (const e of events) {
      if (ids(index.match(e)).join() !== ids(built.match(e)).join()) return false
    }
    return index.size === built.size
  }), { numRuns: 150 }))
})

t.test('observers that share a condition share its compiled function, until the last one leaves', async (t) => {
  let compiled = 0
  const index = new ObserverIndex({ compile: () => { compiled++; return () => true } })
  const many = Array.from({ length: 50 }, (_, i) => ({ observer: observer(`o-${i}`, { condition_expression: "status == 'paid'" }) }))
  index.apply(many)
  t.equal(compiled, 1, 'one compilation for fifty observers')
  index.apply([], many.slice(0, 49).map(({ observer }) => observer.id))
  index.apply([{ observer: observer('late', { condition_expression: "status == 'paid'" }) }])
  t.equal(compiled, 1, 'still shared while one observer holds it')
  index.apply([], ['o-49', 'late'])
  index.apply([{ observer: observer('again', { condition_expression: "status == 'paid'" }) }])
  t.equal(compiled, 2, 'compiled again once every holder had left')
})

t.test('a full replace keeps what it is given again and drops the rest', async (t) => {
  const index = new ObserverIndex()
  const kept = observer('kept', { entity_type: 'a' })
  index.apply([{ observer: kept }, { observer: observer('gone', { entity_type: 'a' }) }])
  const changed = observer('changed', { entity_type: 'a', priority: 1 })
  index.apply([{ observer: kept }, { observer: changed }], [], true)
  t.same(ids(index.match(event())), ['changed', 'kept'])
  t.equal(index.get('kept'), kept, 'the same object')
  t.equal(index.get('gone'), undefined)
})

t.test('an event of one tenant looks at that tenant\'s observers and the global ones only', async (t) => {
  let evaluated = 0
  const index = new ObserverIndex({ compile: () => () => { evaluated++; return true } })
  index.apply(Array.from({ length: 5000 }, (_, i) => ({ observer: observer(`t-${i}`, { entity_type: 'a', tenant_id: `tenant-${i}` }) })))
  index.apply([{ observer: observer('global', { entity_type: 'a' }) }])
  t.same(ids(index.match(event({ tenant_id: 'tenant-7' }))).sort(), ['global', 't-7'])
  evaluated = 0
  t.equal(index.match(event({ tenant_id: 'tenant-9' })).length, 2)
  t.equal(evaluated, 2, 'two conditions evaluated, not 5001')
  evaluated = 0
  t.same(ids(index.match(event({ tenant_id: null }))), ['global'], 'an event without a tenant reaches the global observers only')
  t.equal(evaluated, 1)
})
