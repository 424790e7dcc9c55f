import t from 'tap'
import { build, eventually } from '../../helper.js'
import { chunkRunningSeconds } from '../../helpers/backfill.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { call, createObserver } from '../../helpers/routes.js'

t.test('a backfill of 10 000 rows delivers each once as READ; concurrent UPDATEs still end, per key, on the latest state', async (t) => {
  const last = new Map<string, { v: number, type: string }>()
  const reads = new Map<string, number>()
  const sink = await startHttpTarget(t, (req, res) => {
    const { entity_id: id, event_type: type, data } = req.json
    last.set(id, { v: data.v, type })
    if (type === 'READ') reads.set(id, (reads.get(id) ?? 0) + 1)
    res.writeHead(200).end()
  })
  const { app, pool, schema } = await build(t)
  const N = 10_000
  await pool.query(`create table "${schema}".items (id integer primary key, v integer not null)`)
  await pool.query(`insert into "${schema}".items select g, 0 from generate_series(1, ${N}) g`)
  t.equal((await call(app, 'POST', '/captures', { schema, table: 'items' })).statusCode, 201)
  await createObserver(app, { entity_type: 'items', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })

  const res = await call(app, 'POST', `/captures/${schema}/items/backfill`, { chunk_size: 1000 })
  t.equal(res.statusCode, 202)
  const id = res.json().job_id
  // live writes go on while the job runs: rounds of UPDATEs of rows the chunks are reading
  let rounds = 0
  let status = 'queued'
  while (status !== 'done' || rounds < 20) {
    const from = 1 + (rounds * 373) % N
    await pool.query(`update "${schema}".items set v = v + 1 where id between $1 and $1 + 199`, [from])
    rounds++
    if (rounds % 5 === 0) status = (await call(app, 'GET', `/jobs/${id}`)).json().status
    if (rounds > 5000) throw new Error(`the backfill did not end (${status})`)
  }
  t.match((await call(app, 'GET', `/jobs/${id}`)).json(), { kind: 'backfill', status: 'done', total: N, done: N, failed: 0, observer_id: null })
  // every event of the table is delivered (its change-log rows), then each key's last one is checked
  const { rows: [{ events }] } = await pool.query(`select count(*)::int as events from "${schema}".tb_entity_change_log where object_type = 'items'`)
  await sink.waitFor(events, 60_000)
  const { rows } = await pool.query(`select id::text as id, v from "${schema}".items`)
  t.same(rows.filter((r) => last.get(r.id)?.v !== r.v), [], 'every key ends on its latest state')
  t.equal(reads.size, N, 'every row was delivered as READ')
  t.ok([...reads.values()].every((n) => n === 1), 'each row once')
  t.ok(rows.some((r) => r.v > 0), 'rows changed during the backfill')
  const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log where modification_type = 'READ'`)
  t.equal(n, N, 'one READ change-log row per row')
})

t.test('backfill filters are checked against the table and bound as parameters', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`create table "${schema}".things (id text primary key, size integer, kind text)`)
  await pool.query(`insert into "${schema}".things values ('a', 1, 'x'), ('b', 5, 'y'), ('c', 9, 'x'), ('d', null, 'z')`)
  const url = `/captures/${schema}/things/backfill`
  const total = async (filter: object[]): Promise<unknown> => (await call(app, 'POST', url, { filter, dry_run: true })).json()
  t.same(await total([]), { total: 4 })
  t.same(await total([{ column: 'size', op: '>=', value: 5 }]), { total: 2 })
  t.same(await total([{ column: 'kind', op: 'in', value: ['x', 'z'] }, { column: 'id', op: '!=', value: 'c' }]), { total: 2 })
  t.same(await total([{ column: 'kind', op: '=', value: "x' or '1'='1" }]), { total: 0 }, 'a value is a parameter, never SQL')
  const bad = async (body: object, status: number, message: RegExp): Promise<void> => {
    const res = await call(app, 'POST', url, body)
    t.equal(res.statusCode, status, JSON.stringify(body))
    t.match(res.json(), { message })
  }
  await bad({ filter: [{ column: 'size; drop table x', op: '=', value: 1 }] }, 400, /body\/filter\/0\/column: the table has no column/)
  await bad({ filter: [{ column: 'size', op: 'like', value: 1 }] }, 400, /body\/filter\/0\/op/)
  await bad({ filter: [{ column: 'size', op: 'in', value: 1 }] }, 400, /must be a list for op in/)
  await bad({ filter: [{ column: 'size', op: '=', value: [1] }] }, 400, /must be one value for op =/)
  await bad({ filter: [{ column: 'size', op: '=', value: 'big' }] }, 400, /body\/filter\/0\/value is not a value the database accepts/)
  await bad({ chunk_size: 1001 }, 400, /chunk_size/)
  t.equal((await call(app, 'POST', `/captures/${schema}/nothing/backfill`, {})).statusCode, 404)
  await pool.query(`create table "${schema}".nokey (a int)`)
  t.match((await call(app, 'POST', `/captures/${schema}/nokey/backfill`, {})).json(), { statusCode: 400, message: /needs a primary key of one column/ })
  t.equal((await call(app, 'GET', '/jobs')).json().data.length, 0, 'nothing was queued')
})

t.test('a chunk waits for an older open transaction, so its later UPDATE is not overtaken by a stale READ', async (t) => {
  const last = new Map<string, { v: number, type: string }>()
  const sink = await startHttpTarget(t, (req, res) => {
    last.set(req.json.entity_id, { v: req.json.data.v, type: req.json.event_type })
    res.writeHead(200).end()
  })
  const { app, pool, schema } = await build(t)
  await pool.query(`create table "${schema}".items (id integer primary key, v integer not null)`)
  await pool.query(`insert into "${schema}".items select g, 0 from generate_series(1, 50) g`)
  await call(app, 'POST', '/captures', { schema, table: 'items' })
  await createObserver(app, { entity_type: 'items', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })
  // a writer whose transaction id is older than any chunk's, still open when the backfill starts
  const writer = await pool.connect()
  t.teardown(() => { writer.release() })
  await writer.query('begin')
  await writer.query(`update "${schema}".items set v = 1 where id = 50`)
  const { job_id: id } = (await call(app, 'POST', `/captures/${schema}/items/backfill`, {})).json()
  // the chunk's statement waits in the database while the writer is open
  await eventually(async () => await chunkRunningSeconds(pool, schema) > 0, 10_000, 'a chunk waiting while the writer is open')
  const { rows: [{ done }] } = await pool.query(`select done::int from "${schema}".tb_observer_job where id = $1`, [id])
  t.equal(done, 0, 'no row is read while an older transaction may still write it')
  await writer.query(`update "${schema}".items set v = 100 where id = 1`)
  await writer.query('commit')
  await eventually(async () => (await call(app, 'GET', `/jobs/${id}`)).json().status === 'done' || undefined, 20_000, 'the backfill ends')
  // every row's READ is delivered (after the UPDATEs of rows 1 and 50, in commit order)
  await eventually(() => [...last.values()].filter((e) => e.type === 'READ').length === 50 || undefined, 20_000, 'every READ is delivered')
  t.same(last.get('1'), { v: 100, type: 'READ' }, 'the READ came after the older transaction\'s UPDATE, and carries it')
  t.same(last.get('50'), { v: 1, type: 'READ' })
})

t.test('by default a chunk is 25 rows: a live change waits behind at most that many READ rows', async (t) => {
  const { app, pool, schema } = await build(t)
  await pool.query(`create table "${schema}".items (id integer primary key)`)
  await pool.query(`insert into "${schema}".items select generate_series(1, 100)`)
  t.equal((await call(app, 'POST', '/captures', { schema, table: 'items' })).statusCode, 201)
  const res = await call(app, 'POST', `/captures/${schema}/items/backfill`, {})
  t.equal(res.statusCode, 202)
  await eventually(async () => (await call(app, 'GET', `/jobs/${res.json().job_id}`)).json().status === 'done', 30_000, 'the backfill done')
  // one chunk, one transaction
  const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from "${schema}".tb_entity_change_log
    where modification_type = 'READ' group by txid order by 1 desc`)
  t.same(rows.map((r) => r.n), [25, 25, 25, 25], '100 rows in 4 transactions of 25')
})
