// The observer fields of ordered delivery, and GET /:id/blocked.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { AUTH, build } from '../helper.js'

const base = { name: 'ordered', actions: [{ type: 'log' }] }

t.test('ordering and on_dead_letter: defaults, validation at save, PATCH across both', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const post = async (body: object) => await app.inject({ method: 'POST', url: '/observers', headers: AUTH, payload: body })
  const plain = await post({ ...base, name: 'plain' })
  t.match(plain.json(), { ordering: 'none', on_dead_letter: 'skip' }, 'defaults')
  const ordered = await post({ ...base, ordering: 'entity', on_dead_letter: 'block' })
  t.equal(ordered.statusCode, 201)
  t.match(ordered.json(), { ordering: 'entity', on_dead_letter: 'block' })

  const wrong = await post({ ...base, name: 'x', ordering: 'key' })
  t.equal(wrong.statusCode, 400)
  t.match(wrong.json(), { code: 'OBS_ERR_VALIDATION', message: 'body/ordering must be one of none, entity' })
  const unordered = await post({ ...base, name: 'y', on_dead_letter: 'block' })
  t.equal(unordered.statusCode, 400)
  t.match(unordered.json().message, /^body\/on_dead_letter must be skip unless ordering is entity/)

  const id = ordered.json().id as string
  const patch = async (body: object) => await app.inject({ method: 'PATCH', url: `/observers/${id}`, headers: AUTH, payload: body })
  t.equal((await patch({ ordering: 'none' })).statusCode, 400, 'the stored on_dead_letter counts')
  const both = await patch({ ordering: 'none', on_dead_letter: 'skip' })
  t.equal(both.statusCode, 200)
  t.match(both.json(), { ordering: 'none', on_dead_letter: 'skip' })
  t.match((await app.inject({ url: `/observers/${id}`, headers: AUTH })).json(), { ordering: 'none', on_dead_letter: 'skip' })
})

t.test('GET /:id/blocked: empty for a free observer, 404 for an unknown one, 400 for a foreign cursor', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const created = await app.inject({ method: 'POST', url: '/observers', headers: AUTH, payload: { ...base, ordering: 'entity' } })
  const id = created.json().id as string
  const page = await app.inject({ url: `/observers/${id}/blocked`, headers: AUTH })
  t.equal(page.statusCode, 200)
  t.same(page.json(), { data: [], next_cursor: null })
  t.equal((await app.inject({ url: `/observers/${randomUUID()}/blocked`, headers: AUTH })).statusCode, 404)
  t.match((await app.inject({ url: `/observers/${id}/blocked?cursor=nope`, headers: AUTH })).json(), { statusCode: 400, code: 'OBS_ERR_INVALID_CURSOR' })
  t.equal((await app.inject({ url: `/observers/${id}/blocked` })).statusCode, 401)
})

t.test('blocked keys page oldest first', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const created = await app.inject({ method: 'POST', url: '/observers', headers: AUTH, payload: { ...base, ordering: 'entity' } })
  const id = created.json().id as string
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id) select $1, 'order', 'k' || n from generate_series(1, 3) n`, [id])
  const first = (await app.inject({ url: `/observers/${id}/blocked?limit=2`, headers: AUTH })).json()
  t.same(first.data.map((k: { entity_id: string }) => k.entity_id), ['k1', 'k2'])
  t.match(first.data[0], { parked_count: 0, blocking: { event_id: null, attempts: 0, next_retry_at: null, dead_letter_id: null } })
  const second = (await app.inject({ url: `/observers/${id}/blocked?limit=2&cursor=${String(first.next_cursor)}`, headers: AUTH })).json()
  t.same(second.data.map((k: { entity_id: string }) => k.entity_id), ['k3'])
  t.equal(second.next_cursor, null)
})
