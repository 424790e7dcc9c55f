// GET /observers by cursor (SPEC 9.9): next_cursor walks the list in its order (priority, then
// creation) with no row skipped or repeated, filters and tenancy apply, and past 10 000 observers
// the total is an estimate, flagged.
import t from 'tap'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type pg from 'pg'
import { build } from '../helper.js'
import { call, createObserver } from '../helpers/routes.js'

/** Every page from the first, by next_cursor; returns the pages' bodies. */
async function walk (app: FastifyInstance, query: string, headers: Record<string, string> = {}): Promise<any[]> {
  const pages = []
  let cursor: string | null = null
  do {
    const res = await call(app, 'GET', `?${query}${cursor === null ? '' : `&cursor=${cursor}`}`, undefined, headers)
    if (res.statusCode !== 200) throw new Error(`${res.statusCode}: ${res.body}`)
    pages.push(res.json())
    cursor = pages[pages.length - 1].next_cursor
  } while (cursor !== null && pages.length < 1000)
  return pages
}

const names = (pages: any[]): string[] => pages.flatMap((p) => p.data.map((o: any) => o.name))

/** `count` observers in one statement: they share created_at (one now()), so only the pk orders them. */
async function insertMany (pool: pg.Pool, schema: string, count: number, priority: (g: string) => string = () => '100', tenant = 'null'): Promise<void> {
  await pool.query(`insert into "${schema}".tb_observer (name, actions, priority, timeout_ms, tenant_id)
    select 'bulk-' || lpad(g::text, 6, '0'), '[{"type":"log"}]', ${priority('g')}, 1000, ${tenant} from generate_series(1, ${count}) g`)
}

t.test('next_cursor walks every observer once, in priority then creation order, as the pages by number do', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  for (let i = 0; i < 7; i++) await createObserver(app, { name: `o${i}`, priority: i % 2 === 0 ? 10 : 5, entity_type: i < 3 ? 'orders' : 'users' })
  const byNumber = [1, 2, 3].map(async (page) => (await call(app, 'GET', `?page=${page}&page_size=3`)).json())
  const pages = await walk(app, 'page_size=3')
  t.same(pages.map((p) => [p.page, p.data.length, p.total_count, p.total_pages, p.total_estimated]), [[1, 3, 7, 3, false], [2, 3, 7, 3, false], [3, 1, 7, 3, false]])
  t.same(names(pages), names(await Promise.all(byNumber)), 'the same rows in the same order')
  t.same(names(pages), ['o1', 'o3', 'o5', 'o0', 'o2', 'o4', 'o6'])
  t.equal(pages[2].next_cursor, null, 'null on the last page')
  t.equal((await call(app, 'GET', '?page=3&page_size=3')).json().next_cursor, null, 'pages by number carry it too')
  t.type((await call(app, 'GET', '?page=1&page_size=3')).json().next_cursor, 'string', 'and a page by number leads on by cursor')

  t.same(names(await walk(app, 'page_size=2&entity_type=orders')), ['o1', 'o0', 'o2'], 'a filter applies to every page')
  const first = (await call(app, 'GET', '?page_size=2&entity_type=orders')).json()
  t.equal(first.total_count, 3)
})

t.test('observers created in one statement (one created_at) are ordered by their pk: no row skipped or repeated', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await insertMany(pool, schema, 250, (g) => `case when ${g} % 3 = 0 then 7 else 100 end`)
  const pages = await walk(app, 'page_size=100')
  const listed = names(pages)
  t.equal(listed.length, 250)
  t.equal(new Set(listed).size, 250, 'each once')
  const expected = Array.from({ length: 250 }, (_, i) => i + 1).sort((a, b) => (a % 3 === 0 ? 0 : 1) - (b % 3 === 0 ? 0 : 1) || a - b)
    .map((g) => `bulk-${String(g).padStart(6, '0')}`)
  t.same(listed, expected, 'priority first, then the order they were inserted in')
})

t.test('a cursor with a page, or one we did not make, is a 400', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  for (let i = 0; i < 3; i++) await createObserver(app, { name: `o${i}` })
  const { next_cursor: cursor } = (await call(app, 'GET', '?page_size=1')).json()
  const both = await call(app, 'GET', `?page=2&page_size=1&cursor=${cursor}`)
  t.equal(both.statusCode, 400)
  t.match(both.json(), { code: 'OBS_ERR_VALIDATION', message: /give page or cursor, not both/ })
  const forged = [
    'not-a-cursor', Buffer.from('[1,"x",1,2]').toString('base64url'), Buffer.from('["1; drop table","2026-01-01T00:00:00.000000Z","1",2]').toString('base64url'),
    Buffer.from('[1,"2026-01-01T00:00:00.000000Z","99999999999999999999",2]').toString('base64url'), `${cursor}!`
  ]
  for (const bad of forged) {
    const res = await call(app, 'GET', `?page_size=1&cursor=${encodeURIComponent(bad)}`)
    t.equal(res.statusCode, 400, bad)
    t.match(res.json(), { code: 'OBS_ERR_INVALID_CURSOR' }, bad)
  }
  t.equal((await call(app, 'GET', `?page_size=1&cursor=${cursor}`)).json().page, 2, 'the real one leads to page 2')
})

t.test('a tenant walks its own and the global observers, merged in order', async (t) => {
  const tenant = (request: FastifyRequest): string | null => typeof request.headers['x-tenant'] === 'string' ? request.headers['x-tenant'] : null
  const { app, pool, schema } = await build(t, { tenant, runtime: { start: false } })
  await insertMany(pool, schema, 30, (g) => `${g} % 5`, "'acme'")
  await pool.query(`update "${schema}".tb_observer set name = 'acme-' || name`)
  await insertMany(pool, schema, 20, (g) => `${g} % 4`)
  await insertMany(pool, schema, 10, () => '0', "'globex'")
  await pool.query(`update "${schema}".tb_observer set name = 'globex-' || name where tenant_id = 'globex'`)
  const acme = names(await walk(app, 'page_size=7', { 'x-tenant': 'acme' }))
  t.equal(acme.length, 50, 'its 30 and the 20 global ones')
  t.notOk(acme.some((name) => name.startsWith('globex-')), 'nothing of another tenant')
  const byNumber = []
  for (let page = 1; page <= 8; page++) byNumber.push(...(await call(app, 'GET', `?page=${page}&page_size=7`, undefined, { 'x-tenant': 'acme' })).json().data.map((o: any) => o.name))
  t.same(acme, byNumber, 'in the order the pages by number give')
  t.equal(names(await walk(app, 'page_size=7')).length, 20, 'the global tenant sees the global ones')
})

t.test('past 10 000 observers total_count is an estimate, flagged; deep pages still answer', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await insertMany(pool, schema, 12_000)
  await pool.query(`analyze "${schema}".tb_observer`)
  const first = (await call(app, 'GET', '?page_size=100')).json()
  t.equal(first.total_estimated, true)
  t.ok(first.total_count > 10_000 && first.total_count < 20_000, `an estimate near 12 000 (${first.total_count})`)
  t.equal(first.total_pages, Math.ceil(first.total_count / 100))
  const second = (await call(app, 'GET', `?page_size=100&cursor=${first.next_cursor}`)).json()
  t.equal(second.page, 2)
  t.equal(second.data[0].name, 'bulk-000101')
  const deep = (await call(app, 'GET', '?page=110&page_size=100')).json()
  t.equal(deep.data[0].name, 'bulk-010901', 'a page by number deep in the list')
  t.equal((await call(app, 'GET', `?page_size=100&cursor=${deep.next_cursor}`)).json().data[0].name, 'bulk-011001', 'and its cursor')
  t.match((await call(app, 'GET', '?page_size=100&entity_type=none-such')).json(), { total_count: 0, total_estimated: false, next_cursor: null, data: [] })
})
