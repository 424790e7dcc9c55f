import t from 'tap'
import type pg from 'pg'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { INJECTIONS, call, createObserver } from '../helpers/routes.js'

const MISSING = '00000000-0000-4000-8000-000000000000'

interface LogRow { observer_id: string, status: string, duration_ms?: number, entity_type?: string, entity_id?: string, trace_id?: string | null, created_at?: string, event_id?: string }

/** Attempt rows as the runtime writes them, for deterministic statistics and pagination. */
async function insertLogs (pool: pg.Pool, schema: string, rows: LogRow[]): Promise<void> {
  await pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, entity_type, entity_id, event_type, action_index, action_type,
      status, attempt_number, max_attempts, started_at, duration_ms, trace_id, created_at)
    select (r->>'observer_id')::uuid, coalesce((r->>'event_id')::uuid, gen_random_uuid()), coalesce(r->>'entity_type', 'orders'), coalesce(r->>'entity_id', '1'),
      'INSERT', 0, 'webhook', r->>'status', 1, 3, coalesce((r->>'created_at')::timestamptz, now()), (r->>'duration_ms')::int, r->>'trace_id',
      coalesce((r->>'created_at')::timestamptz, now())
    from jsonb_array_elements($1::jsonb) r`, [JSON.stringify(rows)])
}

t.test('logs of real deliveries: newest first, filtered by every field', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (req, res) => { res.writeHead(req.json?.data?.ok === true ? 200 : 400).end() }
  const { app, pool, schema } = await build(t)
  const o = await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: sink.url }] })
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, trace_id)
    values ('orders', '1', 'INSERT', '{"ok": true}', 'trace-1'), ('orders', '2', 'INSERT', '{"ok": false}', null), ('orders', '3', 'INSERT', '{"ok": true}', null)`)
  await sink.waitFor(3)
  const all = await eventually(async () => {
    const page = (await call(app, 'GET', '/logs')).json()
    return page.data.length === 3 ? page : undefined
  }, 10_000, 'three attempts logged')
  t.same(all.data.map((l: any) => l.entity_id), ['3', '2', '1'], 'newest first')
  t.equal(all.next_cursor, null)
  t.match(all.data[1], {
    observer_id: o.id,
    entity_type: 'orders',
    event_type: 'INSERT',
    action_index: 0,
    action_type: 'webhook',
    status: 'failed',
    attempt_number: 1,
    error_code: 'HTTP_400',
    response_status_code: 400
  })
  t.match(all.data[0], { status: 'success', response_status_code: 200, error_code: null, duration_ms: Number })

  const only = async (query: string): Promise<string[]> => (await call(app, 'GET', `/logs?${query}`)).json().data.map((l: any) => l.entity_id)
  t.same(await only('status=failed'), ['2'])
  t.same(await only(`observer_id=${o.id}`), ['3', '2', '1'])
  t.same(await only(`observer_id=${MISSING}`), [])
  t.same(await only(`event_id=${all.data[2].event_id}`), ['1'])
  t.same(await only('entity_type=orders&entity_id=2'), ['2'])
  t.same(await only('entity_type=users'), [])
  t.same(await only('trace_id=trace-1'), ['1'])
  t.same(await only(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), [])
  t.same(await only(`until=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&status=success`), ['3', '1'])
  const own = (await call(app, 'GET', `/${o.id}/logs?status=success`)).json()
  t.same(own.data.map((l: any) => l.entity_id), ['3', '1'])
})

t.test('a failed attempt shows what it sent: the body cut to 4 KiB, secrets redacted; a success keeps nothing', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (req, res) => { res.writeHead(req.json?.data?.ok === true ? 200 : 503).end() }
  const { app, pool, schema } = await build(t)
  await createObserver(app, {
    entity_type: 'orders',
    actions: [{ type: 'webhook', url: `${sink.url}/in?key=url-secret`, headers: { authorization: 'Bearer header-secret' }, signing_secret: 'signing-secret' }],
    retry_config: { max_attempts: 1 }
  })
  const note = 'x'.repeat(20_000)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    values ('orders', '1', 'INSERT', $1), ('orders', '2', 'INSERT', '{"ok": true}')`, [JSON.stringify({ ok: false, note })])
  const [sent] = (await sink.waitFor(2)).filter((r) => r.json.entity_id === '1')
  const logs = await eventually(async () => {
    const page = (await call(app, 'GET', '/logs')).json()
    return page.data.length === 2 ? page.data : undefined
  }, 10_000, 'both attempts logged')
  const failed = logs.find((l: any) => l.status === 'failed')
  t.match(failed.request_payload, {
    method: 'POST',
    url: `${sink.url}/in?key=REDACTED`,
    headers: { authorization: '[redacted]', 'webhook-signature': '[redacted]', 'webhook-id': sent.headers['webhook-id'], traceparent: sent.headers.traceparent },
    body_bytes: Buffer.byteLength(sent.body)
  })
  t.equal(failed.request_payload.body, sent.body.slice(0, 4096), 'the first 4 KiB of the body sent')
  t.notOk(JSON.stringify(failed).includes('secret'), 'no secret in the log row')
  const { rows: [{ bytes }] } = await pool.query(`select octet_length(request_payload::text) as bytes from "${schema}".tb_observer_log where status = 'failed'`)
  t.ok(bytes < 5000, `the stored request is bounded (${bytes} bytes for a ${Buffer.byteLength(sent.body)}-byte body)`)
  t.equal(logs.find((l: any) => l.status === 'success').request_payload, null)
})

t.test('keyset pages are disjoint; bad limits and cursors are 400', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const o = await createObserver(app)
  const other = await createObserver(app)
  await insertLogs(pool, schema, Array.from({ length: 120 }, (_, i) => ({ observer_id: i % 4 === 0 ? other.id : o.id, status: 'success', entity_id: String(i) })))
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await call(app, 'GET', `/${o.id}/logs?limit=40${cursor === null ? '' : `&cursor=${cursor}`}`)
    t.equal(res.statusCode, 200)
    const page = res.json()
    seen.push(...page.data.map((l: any) => l.id))
    cursor = page.next_cursor
    pages++
  } while (cursor !== null)
  t.equal(pages, 3)
  t.equal(seen.length, 90, 'every attempt of the observer, once')
  t.equal(new Set(seen).size, 90)
  t.same(seen, [...seen].sort((a, b) => Number(b) - Number(a)), 'newest first across pages')
  t.equal((await call(app, 'GET', '/logs')).json().data.length, 50, 'default limit 50')
  t.equal((await call(app, 'GET', '/logs?limit=500')).json().data.length, 120)

  for (const query of ['limit=0', 'limit=501', 'cursor=abc', 'cursor=MTIz%3D', `cursor=${Buffer.from('1; drop table x').toString('base64url')}`,
    'since=yesterday', 'observer_id=42', 'entity_id=7', 'verbose=true']) {
    const res = await call(app, 'GET', `/logs?${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json().code, /^OBS_ERR_(VALIDATION|INVALID_CURSOR|INVALID_ID)$/, query)
  }
  t.equal((await call(app, 'GET', `/${MISSING}/logs`)).statusCode, 404)
  t.equal((await call(app, 'GET', '/xyz/logs')).json().code, 'OBS_ERR_INVALID_ID')
  await call(app, 'DELETE', `/${o.id}`)
  t.equal((await call(app, 'GET', `/${o.id}/logs?limit=1`)).json().data.length, 1, 'a soft-deleted observer\'s history stays readable')
})

t.test('SQL-injection strings in the log filters match nothing and harm nothing', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const o = await createObserver(app)
  await insertLogs(pool, schema, [{ observer_id: o.id, status: 'success', trace_id: 'x' }])
  for (const value of INJECTIONS) {
    const v = encodeURIComponent(value)
    for (const query of [`status=${v}`, `entity_type=${v}`, `entity_type=orders&entity_id=${v}`, `trace_id=${v}`]) {
      const res = await call(app, 'GET', `/logs?${query}`)
      t.equal(res.statusCode, 200, query)
      t.same(res.json().data, [], query)
    }
    t.equal((await call(app, 'GET', `/logs?observer_id=${v}`)).statusCode, 400, 'typed filters refuse it outright')
    t.equal((await call(app, 'GET', `/stats?since=${v}`)).statusCode, 400)
  }
  t.equal((await pool.query(`select count(*)::int as n from "${schema}".tb_observer_log`)).rows[0].n, 1, 'the table is intact')
})

t.test('stats: totals by status, success rate, average and p95 duration, last run, dead letters, since', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const busy = await createObserver(app, { name: 'busy', priority: 1 })
  const idle = await createObserver(app, { name: 'idle', priority: 2 })
  const old = new Date(Date.now() - 86_400_000).toISOString()
  await insertLogs(pool, schema, [
    ...Array.from({ length: 17 }, (_, i) => ({ observer_id: busy.id, status: 'success', duration_ms: (i + 1) * 10 })),
    { observer_id: busy.id, status: 'failed', duration_ms: 190 },
    { observer_id: busy.id, status: 'failed', duration_ms: 200 },
    { observer_id: busy.id, status: 'timeout', duration_ms: 1000 },
    { observer_id: busy.id, status: 'skipped' },
    { observer_id: busy.id, status: 'success', duration_ms: 5, created_at: old }
  ])
  await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type,
      action_index, action_type, event, attempts, first_failed_at, last_failed_at)
    values ($1, 'busy', gen_random_uuid(), 'orders', '1', 'INSERT', 0, 'webhook', '{}', 3, now(), now())`, [busy.id])

  const all = await call(app, 'GET', '/stats')
  t.equal(all.statusCode, 200)
  t.same(all.json().data.map((s: any) => s.name), ['busy', 'idle'], 'every live observer, in list order')
  t.same(all.json().data[1], {
    observer_id: idle.id,
    name: 'idle',
    total: 0,
    success: 0,
    failed: 0,
    timeout: 0,
    skipped: 0,
    dead_letters: 0,
    success_rate: null,
    avg_duration_ms: null,
    p95_duration_ms: null,
    last_run_at: null
  })
  const one = (await call(app, 'GET', `/${busy.id}/stats`)).json()
  t.match(one, { observer_id: busy.id, name: 'busy', total: 22, success: 18, failed: 2, timeout: 1, skipped: 1, dead_letters: 1 })
  t.equal(one.success_rate, Math.round((18 / 21) * 10_000) / 10_000, 'success / (success + failed + timeout)')
  t.ok(one.p95_duration_ms > 190 && one.p95_duration_ms < 1000, `p95 ${one.p95_duration_ms}`)
  t.ok(one.avg_duration_ms > 100 && one.avg_duration_ms < 200, `avg ${one.avg_duration_ms}`)
  t.ok(Math.abs(Date.parse(one.last_run_at) - Date.now()) < 60_000)

  const recent = (await call(app, 'GET', `/${busy.id}/stats?since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).json()
  t.equal(recent.total, 21, 'since leaves the day-old attempt out')
  t.equal((await call(app, 'GET', `/stats?since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`)).json().data[0].total, 0)

  t.equal((await call(app, 'GET', `/${MISSING}/stats`)).statusCode, 404)
  t.equal((await call(app, 'GET', '/1/stats')).statusCode, 400)
  await call(app, 'DELETE', `/${busy.id}`)
  t.same((await call(app, 'GET', '/stats')).json().data.map((s: any) => s.name), ['idle'])
  t.equal((await call(app, 'GET', `/${busy.id}/stats`)).json().total, 22, 'a deleted observer keeps its statistics')
})
