import t from 'tap'
import { build } from '../helper.js'
import { call, createObserver, observerBody } from '../helpers/routes.js'

// The schemas refuse what they can know in advance; these are limits only the database knows,
// added by the host to the plugin's tables.

/** Text that compresses poorly, as an index entry must be stored: `length` random CJK characters. */
function incompressible (length: number): string {
  let seed = 16
  return Array.from({ length }, () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return String.fromCodePoint(0x4e00 + (seed % 20_000))
  }).join('')
}

t.test('a value longer than a column the host narrowed is a 400 naming the field', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`alter table "${schema}".tb_observer alter column description type varchar(20)`)
  const created = await call(app, 'POST', '', observerBody({ description: 'x'.repeat(21) }))
  t.equal(created.statusCode, 400)
  t.same(created.json(), {
    statusCode: 400, code: 'OBS_ERR_VALIDATION', error: 'Bad Request', message: 'body/description is longer than its column allows (20 characters)'
  })
  const observer = await createObserver(app, { description: 'x'.repeat(20) })
  const changed = await call(app, 'PATCH', `/${observer.id}`, { name: 'renamed', description: '😀'.repeat(21) })
  t.equal(changed.statusCode, 400)
  t.equal(changed.json().message, 'body/description is longer than its column allows (20 characters)')
})

t.test('a value outside a type the host gave a column is a 400 naming the field, in a body or a query', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`create type "${schema}".entity_kind as enum ('orders');
    alter table "${schema}".tb_observer alter column entity_type type "${schema}".entity_kind using entity_type::"${schema}".entity_kind`)
  const created = await call(app, 'POST', '', observerBody({ entity_type: 'invoices' }))
  t.equal(created.statusCode, 400)
  t.match(created.json(), { code: 'OBS_ERR_VALIDATION', message: /^body\/entity_type is not a value the database accepts: .*enum.*"invoices"$/ })
  const listed = await call(app, 'GET', '?entity_type=invoices')
  t.equal(listed.statusCode, 400)
  t.match(listed.json(), { code: 'OBS_ERR_VALIDATION', message: /^querystring\/entity_type is not a value the database accepts: / })
  t.equal((await call(app, 'POST', '', observerBody({ entity_type: 'orders' }))).statusCode, 201, 'a value of the type is stored')
})

t.test('a value too long for an index the host added is a 400 naming the field', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`create index tb_observer_description on "${schema}".tb_observer (description)`)
  const res = await call(app, 'POST', '', observerBody({ description: incompressible(2000) }))
  t.equal(res.statusCode, 400)
  t.match(res.json(), {
    statusCode: 400,
    code: 'OBS_ERR_VALIDATION',
    message: /^body\/description is too long to be indexed \(6000 bytes; PostgreSQL indexes at most \d+\)$/
  })
  t.notMatch(res.body, /tb_observer/, 'the index is not named')
  t.equal((await call(app, 'POST', '', observerBody({ description: incompressible(500) }))).statusCode, 201)
})

t.test('a data error no request value explains stays a 500 with the request id and no SQL', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`create function "${schema}".broken () returns trigger language plpgsql as $$
    begin perform 'not-a-number'::int; return new; end $$;
    create trigger broken before insert on "${schema}".tb_observer for each row execute function "${schema}".broken()`)
  const res = await call(app, 'POST', '', observerBody({ description: 'fine' }))
  t.equal(res.statusCode, 500)
  t.match(res.json(), { statusCode: 500, code: 'OBS_ERR_INTERNAL', message: /request id req-/ })
  t.notMatch(res.body, /not-a-number|integer|insert|perform/i)
})
