import t from 'tap'
import fc from 'fast-check'
import { ConditionError, compileCondition } from '../../../lib/condition/index.js'
import { DEFAULT_RETRY_CONFIG, type ModificationType, type Observer, type ObserverEvent } from '../../../lib/model.js'
import { buildMatcher, explainMatch } from '../../../lib/runtime/observers/matcher.js'

let seq = 0
function observer (over: Partial<Observer> = {}): Observer {
  seq++
  return {
    id: `obs-${String(seq).padStart(4, '0')}`,
    name: `observer ${seq}`,
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
    created_at: new Date(Date.UTC(2024, 0, 1) + seq * 1000),
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
    entity_type: 'orders',
    entity_id: '42',
    tenant_id: 'acme',
    user_id: null,
    timestamp: '2024-05-01T10:00:00.000Z',
    data: { status: 'paid', total: 150 },
    before: { status: 'new', total: 150 },
    changes: { status: { old: 'new', new: 'paid' } },
    trace_id: null,
    change_log_id: '1',
    ...over
  }
}

const names = (matched: { observer: Observer }[]) => matched.map(m => m.observer.name)

t.test('entity_type: null and * are wildcards, anything else matches exactly', async t => {
  const m = buildMatcher([
    observer({ name: 'null', entity_type: null }),
    observer({ name: 'star', entity_type: '*' }),
    observer({ name: 'orders', entity_type: 'orders' }),
    observer({ name: 'Orders', entity_type: 'Orders' }),
    observer({ name: 'users', entity_type: 'users' })
  ])
  t.same(names(m.match(event())), ['null', 'star', 'orders'], 'case-sensitive')
  t.same(names(m.match(event({ entity_type: 'users' }))), ['null', 'star', 'users'])
  t.same(names(m.match(event({ entity_type: 'invoices' }))), ['null', 'star'])
  t.same(names(m.match(event({ entity_type: '*' }))), ['null', 'star'], "an event's * is just a name")
})

t.test('event_type: null matches any, otherwise case-insensitive equality', async t => {
  const m = buildMatcher([
    observer({ name: 'any', event_type: null }),
    observer({ name: 'UPDATE', event_type: 'UPDATE' }),
    observer({ name: 'update', event_type: 'update' as ModificationType }),
    observer({ name: 'INSERT', event_type: 'INSERT' })
  ])
  t.same(names(m.match(event())), ['any', 'UPDATE', 'update'])
  t.same(names(m.match(event({ event_type: 'update' as ModificationType }))), ['any', 'UPDATE', 'update'])
  t.same(names(m.match(event({ event_type: 'INSERT' }))), ['any', 'INSERT'])
  t.same(names(m.match(event({ event_type: 'DELETE' }))), ['any'])
})

t.test('priority order across buckets: priority, then created_at, then id', async t => {
  const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s))
  const m = buildMatcher([
    observer({ name: 'p5-any-any', priority: 5 }),
    observer({ name: 'p1-upd-orders', priority: 1, event_type: 'UPDATE', entity_type: 'orders' }),
    observer({ name: 'p3-any-orders-late', priority: 3, entity_type: 'orders', created_at: at(30) }),
    observer({ name: 'p3-upd-any-early', priority: 3, event_type: 'UPDATE', created_at: at(10) }),
    observer({ id: 'b', name: 'p3-tie-b', priority: 3, entity_type: '*', created_at: at(20) }),
    observer({ id: 'a', name: 'p3-tie-a', priority: 3, event_type: 'UPDATE', entity_type: 'orders', created_at: at(20) }),
    observer({ name: 'p-10', priority: -10, entity_type: 'orders' }),
    observer({ name: 'p2-ins', priority: 2, event_type: 'INSERT' })
  ].reverse())
  t.same(names(m.match(event())),
    ['p-10', 'p1-upd-orders', 'p3-upd-any-early', 'p3-tie-a', 'p3-tie-b', 'p3-any-orders-late', 'p5-any-any'])
  t.same(names(m.match(event())), names(m.match(event())), 'memoised order is the same order')
  t.same(names(m.match(event({ event_type: 'INSERT', entity_type: 'x' }))), ['p2-ins', 'p3-tie-b', 'p5-any-any'])
})

t.test('tenant: a global observer matches every tenant, a tenant observer only its own', async t => {
  const m = buildMatcher([observer({ name: 'global' }), observer({ name: 'acme', tenant_id: 'acme' }), observer({ name: 'other', tenant_id: 'other' })])
  t.same(names(m.match(event())), ['global', 'acme'])
  t.same(names(m.match(event({ tenant_id: 'other' }))), ['global', 'other'])
  t.same(names(m.match(event({ tenant_id: null }))), ['global'])
})

t.test('disabled and deleted observers are not indexed', async t => {
  const m = buildMatcher([
    observer({ name: 'live' }),
    observer({ name: 'disabled', enabled: false }),
    observer({ name: 'deleted', deleted_at: new Date() })
  ])
  t.equal(m.size, 1)
  t.same(names(m.match(event())), ['live'])
})

t.test('conditions are compiled once and decide the match', async t => {
  let compiled = 0
  const compile = (source: string | null | undefined) => { compiled++; return compileCondition(source) }
  const m = buildMatcher([
    observer({ name: 'paid', condition_expression: "status == 'paid'" }),
    observer({ name: 'big', condition_expression: 'total > 1000' }),
    observer({ name: 'changed', condition_expression: "field_changed_to(status, 'paid')" }),
    observer({ name: 'none', condition_expression: null }),
    observer({ name: 'blank', condition_expression: '  ' })
  ], { compile })
  t.equal(compiled, 5)
  t.same(names(m.match(event())), ['paid', 'changed', 'none', 'blank'])
  t.same(names(m.match(event({ data: { status: 'new', total: 5000 } }))), ['big', 'none', 'blank'])
  t.equal(compiled, 5, 'matching compiles nothing')
})

t.test('an observer whose condition does not compile is skipped and reported', async t => {
  const reported: [string, unknown][] = []
  const bad = observer({ name: 'bad', condition_expression: 'status ==' })
  const m = buildMatcher([observer({ name: 'good' }), bad], { onInvalid: (o, err) => reported.push([o.name, err]) })
  t.equal(m.size, 1)
  t.same(names(m.match(event())), ['good'])
  t.equal(reported.length, 1)
  t.equal(reported[0][0], 'bad')
  t.ok(reported[0][1] instanceof ConditionError)
  t.doesNotThrow(() => buildMatcher([bad]), 'no reporter: still no throw')
  t.equal(buildMatcher([bad, observer()], { onInvalid: () => { throw new Error('reporter broke') } }).size, 1,
    'a throwing reporter does not break the build')
})

t.test('a predicate that throws at match time is no match, not a crash', async t => {
  const m = buildMatcher([observer({ name: 'boom' }), observer({ name: 'ok' })], {
    compile: () => () => { throw new Error('boom') }
  })
  t.same(names(m.match(event())), [])
  const mixed = buildMatcher([observer({ name: 'boom', condition_expression: 'x' }), observer({ name: 'ok' })], {
    compile: source => source === 'x' ? () => { throw new Error('boom') } : () => true
  })
  t.same(names(mixed.match(event())), ['ok'])
  const reported: string[] = []
  const told = buildMatcher([observer({ name: 'boom', condition_expression: 'x' }), observer({ name: 'ok' })], {
    compile: source => source === 'x' ? () => { throw new Error('boom') } : () => true,
    onEvaluationError: (o, e, err) => reported.push(`${o.name} ${e.event_id} ${(err as Error).message}`)
  })
  t.same(names(told.match(event({ event_id: 'e-1' }))), ['ok'])
  t.same(reported, ['boom e-1 boom'], 'the failure is reported with the observer and the event')
  const loud = buildMatcher([observer({ name: 'boom', condition_expression: 'x' }), observer({ name: 'ok' })], {
    compile: source => source === 'x' ? () => { throw new Error('boom') } : () => true,
    onEvaluationError: () => { throw new Error('reporter broke') }
  })
  t.same(names(loud.match(event())), ['ok'], 'a throwing reporter does not stop the matching')
})

t.test('matching looks up buckets, it does not evaluate every observer', async t => {
  let evaluated = 0
  const compile = () => () => { evaluated++; return true }
  const many = Array.from({ length: 1000 }, (_, i) => observer({ entity_type: `table_${i}` }))
  const m = buildMatcher([...many, observer({ name: 'orders', entity_type: 'orders' }), observer({ name: 'all' })], { compile })
  t.same(names(m.match(event())), ['orders', 'all'])
  t.equal(evaluated, 2, 'only the candidates of the event\'s buckets were evaluated')
})

t.test('retry config is merged over the defaults', async t => {
  const m = buildMatcher([
    observer({ name: 'defaults' }),
    observer({ name: 'custom', retry_config: { max_attempts: 7, backoff_strategy: 'fixed' } as never })
  ])
  const [defaults, custom] = m.match(event())
  t.same(defaults.retry, DEFAULT_RETRY_CONFIG)
  t.same(custom.retry, { ...DEFAULT_RETRY_CONFIG, max_attempts: 7, backoff_strategy: 'fixed' })
  t.ok(Object.isFrozen(custom.retry) && Object.isFrozen(custom))
  t.equal(m.match(event())[1], custom, 'the same matched object every time')
})

t.test('the matcher is immutable and independent of its input array', async t => {
  const input = [observer({ name: 'a' })]
  const m = buildMatcher(input)
  input.push(observer({ name: 'b' }))
  input[0].priority = -1
  t.same(names(m.match(event())), ['a'])
  t.ok(Object.isFrozen(m))
  t.equal(buildMatcher([]).size, 0)
  t.same(buildMatcher([]).match(event()), [])
})

t.test('many distinct entity types (beyond the memo) still match correctly', async t => {
  const m = buildMatcher([observer({ name: 'all' }), observer({ name: 'e5', entity_type: 'e5' })])
  let total = 0
  for (let i = 0; i < 10_050; i++) total += m.match(event({ entity_type: `e${i}` })).length
  t.equal(total, 10_051)
  t.same(names(m.match(event({ entity_type: 'e5' }))), ['all', 'e5'])
  t.same(names(m.match(event({ entity_type: 'e10049' }))), ['all'])
})

t.test('explain names the first rule that fails', async t => {
  const indexed = observer({ event_type: 'UPDATE', entity_type: 'orders', tenant_id: 'acme', condition_expression: "status == 'paid'" })
  const m = buildMatcher([indexed])
  t.same(m.explain(indexed, event()), { matches: true, reason: null, condition: true })
  t.same(m.explain(indexed, event({ data: { status: 'new' } })), { matches: false, reason: 'condition', condition: false })
  t.same(m.explain({ ...indexed, enabled: false }, event()), { matches: false, reason: 'disabled', condition: null })
  t.same(m.explain({ ...indexed, deleted_at: new Date() }, event()), { matches: false, reason: 'disabled', condition: null })
  t.same(m.explain(indexed, event({ event_type: 'INSERT' })), { matches: false, reason: 'event_type', condition: null })
  t.same(m.explain(indexed, event({ entity_type: 'users' })), { matches: false, reason: 'entity_type', condition: null })
  t.same(m.explain(indexed, event({ tenant_id: 'other' })), { matches: false, reason: 'tenant', condition: null })
  t.same(m.explain({ ...indexed, enabled: false }, event({ event_type: 'INSERT', tenant_id: 'x' })).reason, 'disabled', 'in rule order')
  t.same(m.explain({ ...indexed, event_type: 'update' as ModificationType, entity_type: '*' }, event()),
    { matches: true, reason: null, condition: true }, 'an unindexed observer is compiled on demand')
  t.same(m.explain({ ...indexed, condition_expression: 'status ==' }, event()),
    { matches: false, reason: 'condition', condition: null }, 'an invalid condition is not evaluated')
  t.same(explainMatch(observer({ condition_expression: 'total > 100' }), event()), { matches: true, reason: null, condition: true })
  t.same(explainMatch(observer({ condition_expression: 'total > 100' }), event(), () => () => false),
    { matches: false, reason: 'condition', condition: false }, 'a custom compiler')
})

t.test('match agrees with a naive scan on random observers and events', async t => {
  const entity = fc.constantFrom(null, '*', 'a', 'b', 'A')
  const type = fc.constantFrom(null, 'INSERT', 'UPDATE', 'update', 'DELETE')
  const tenant = fc.constantFrom(null, 't1', 't2')
  const condition = fc.constantFrom(null, 'x > 1', 'x <= 1', 'has_field(x)', 'broken ==')
  const obs = fc.record({
    entity_type: entity,
    event_type: type,
    tenant_id: tenant,
    condition_expression: condition,
    enabled: fc.boolean(),
    deleted: fc.boolean(),
    priority: fc.integer({ min: 0, max: 3 }),
    created: fc.integer({ min: 0, max: 3 })
  }).map(({ deleted, created, ...rest }) => observer({
    ...rest, event_type: rest.event_type as ModificationType | null, deleted_at: deleted ? new Date() : null, created_at: new Date(created)
  }))
  const ev = fc.record({
    entity_type: fc.constantFrom('a', 'b', 'A', 'c'),
    event_type: fc.constantFrom('INSERT', 'UPDATE', 'DELETE', 'CUSTOM', 'READ' as const),
    tenant_id: tenant,
    x: fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 3 }))
  }).map(({ x, ...rest }) => event({ ...rest, data: x === undefined ? {} : { x } }))
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(obs, { maxLength: 25 }), fc.array(ev, { maxLength: 5 }), (observers, events) => {
    const m = buildMatcher(observers)
    for (const e of events) {
      const expected = observers
        .filter(o => o.enabled && o.deleted_at === null && o.condition_expression !== 'broken ==')
        .filter(o => o.event_type === null || o.event_type.toUpperCase() === e.event_type)
        .filter(o => o.entity_type === null || o.entity_type === '*' || o.entity_type === e.entity_type)
        .filter(o => o.tenant_id === null || o.tenant_id === e.tenant_id)
        .filter(o => compileCondition(o.condition_expression)(e))
        .sort((a, b) => a.priority - b.priority || a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1))
      const got = m.match(e).map(x => x.observer.id)
      if (JSON.stringify(got) !== JSON.stringify(expected.map(o => o.id))) throw new Error(`mismatch ${got} vs ${expected.map(o => o.id)}`)
      for (const o of observers) {
        if (m.explain(o, e).matches !== expected.includes(o)) throw new Error(`explain disagrees for ${o.id}`)
      }
    }
  }), { numRuns: 500 }))
})
