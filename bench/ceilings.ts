// The two ceilings the runtime competes with, measured on the same machine in the same run:
// - http: one process POSTing event envelopes to the same sink with undici's Pool, keep-alive,
//   64 requests in flight: the most deliveries/s the HTTP side could ever give;
// - pg: the runtime's database work without HTTP: read the change log in batches of 100 in
//   (txid, pk) order, build the attempt-log rows and commit them with the checkpoint move (the
//   runtime's commitSettlement), one batch after another. It calls the runtime's own functions, so it
//   moves with them.
import { randomUUID } from 'node:crypto'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { Pool } from 'undici'
import type { BenchContext } from './app.js'
import { now } from './clock.js'
import { dropSchema, flushDatabase, insertChangeLog, sampleOrder } from './data.js'
import type { Database } from '../lib/db/types.js'
import type { Observer } from '../lib/model.js'
import type { AttemptResult } from '../lib/runtime/delivery/attempt.js'
import type { RuntimeCode } from './code.js'
import { measureCpu, type CpuReport } from './cpu.js'
import { startProfile, type ProfileReport } from './profiler.js'
import { loadAverage } from './machine.js'
import type { Sink } from './sink-client.js'
import { round } from './stats.js'

export interface HttpCeiling {
  requests: number
  concurrency: number
  body_bytes: number
  seconds: number
  requests_per_s: number
  sink_received: number
  cpu: CpuReport
  load_average: number[]
  /** with --cpu-prof */
  profile?: ProfileReport
}

export interface PgCeiling {
  rows: number
  batch_size: number
  batches: number
  seconds: number
  rows_per_s: number
  batch_ms: { read: number, commit: number }
  cpu: CpuReport
  load_average: number[]
}

const observer: Observer = {
  id: randomUUID(),
  name: 'bench-ceiling',
  description: null,
  entity_type: null,
  event_type: null,
  condition_expression: null,
  actions: [{ type: 'webhook', url: 'http://127.0.0.1/' }],
  enabled: true,
  priority: 100,
  retry_config: null,
  timeout_ms: 5000,
  ordering: 'none',
  on_dead_letter: 'skip',
  tenant_id: null,
  created_at: new Date(),
  updated_at: new Date(),
  created_by: null,
  updated_by: null,
  deleted_at: null
}

/** The default webhook body the runtime sends for change-log row `n`, with the given event id. */
function envelopeBody (code: RuntimeCode, n: number, eventId: string): string {
  const event = code.toEvent({
    pk_entity_change_log: String(n),
    id: eventId,
    object_type: 'order',
    object_id: String(n),
    modification_type: 'INSERT',
    object_data: sampleOrder(n),
    object_data_before: null,
    updated_fields: null,
    tenant_id: null,
    user_id: null,
    trace_id: null,
    extra_metadata: null,
    created_at: new Date(),
    txid: '1000'
  })
  return JSON.stringify(code.toEnvelope(event, observer))
}

/** `concurrency` 64: the ceiling; the default `maxInFlightPerEndpoint`: what one endpoint may have in flight. */
export async function httpCeiling (ctx: BenchContext, sink: Sink, concurrency = 64): Promise<HttpCeiling> {
  const requests = ctx.quick ? 20_000 : 100_000
  // the body differs per request only in its event id: build it once, splice the id in
  const template = envelopeBody(ctx.code, 12345, '00000000-0000-0000-0000-000000000000')
  const [head, tail] = template.split('00000000-0000-0000-0000-000000000000')
  const pool = new Pool(sink.url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 })
  const run = async (count: number): Promise<number> => {
    let sent = 0
    const start = now()
    const worker = async (): Promise<void> => {
      while (sent < count) {
        sent++
        const { statusCode, body } = await pool.request({
          path: '/', method: 'POST', headers: { 'content-type': 'application/json' }, body: head + randomUUID() + tail
        })
        await body.dump()
        if (statusCode !== 200) throw new Error(`sink answered ${statusCode}`)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return (now() - start) / 1000
  }
  try {
    await sink.reset()
    ctx.progress('ceiling http: warming up')
    await run(Math.min(5000, requests / 10))
    await sink.reset()
    ctx.progress(`ceiling http: ${requests} POSTs, ${concurrency} in flight`)
    const cpu = await measureCpu(sink, ctx.postmaster)
    const profiling = await startProfile(ctx.profile, 'ceiling-http', ctx.progress)
    const seconds = await run(requests)
    const profile = await profiling.stop()
    const cpuUsed = await cpu.stop()
    const stats = await sink.stats()
    const result = {
      requests,
      concurrency,
      body_bytes: Buffer.byteLength(template),
      seconds: round(seconds, 3),
      requests_per_s: Math.round(requests / seconds),
      sink_received: stats.delivered,
      cpu: cpuUsed,
      load_average: loadAverage(),
      ...(profile === undefined ? {} : { profile })
    }
    ctx.progress(`ceiling http: ${result.requests_per_s} POSTs/s, ${concurrency} in flight`)
    return result
  } finally {
    await pool.close()
  }
}

export async function pgCeiling (ctx: BenchContext): Promise<PgCeiling> {
  const rows = ctx.quick ? 20_000 : 100_000
  const batchSize = 100
  const schema = 'bench_ceiling_pg'
  const listenerId = 'ceiling'
  const pool = new pg.Pool({ connectionString: ctx.url, max: 2 })
  pool.on('error', () => {})
  const root = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  try {
    await dropSchema(ctx.pool, schema)
    await ctx.code.migrateToLatest(root, schema)
    const db = root.withSchema(schema)
    ctx.progress(`ceiling pg: writing ${rows} change-log rows`)
    await insertChangeLog(ctx.pool, schema, rows)
    await flushDatabase(ctx.pool)
    let position = (await ctx.code.ensureCheckpoint(db, listenerId)).position
    let read = 0
    let batches = 0
    ctx.progress(`ceiling pg: reading and logging in batches of ${batchSize}`)
    const phases = { read: 0, commit: 0 }
    const cpu = await measureCpu(undefined, ctx.postmaster)
    const start = now()
    // as the runtime's read loop does it, one batch after another: read, build the log rows, commit
    // them with the checkpoint move (commitSettlement: one statement for a batch of successes)
    for (;;) {
      const from = position
      const t0 = now()
      const { rows: changes } = await ctx.code.readBelowHorizon(db, schema, from, batchSize)
      const t1 = now()
      if (changes.length === 0) break
      const startedAt = new Date()
      const results: AttemptResult[] = changes.map((row) => ({
        delivery: { event: ctx.code.toEvent(row), observer, retry: ctx.code.DEFAULT_RETRY_CONFIG, actionIndex: 0, action: observer.actions[0], attempt: 1, origin: 'change_log' },
        outcome: { ok: true, statusCode: 200, response: 'ok' },
        startedAt,
        durationMs: 1
      }))
      const last = changes[changes.length - 1]
      const to = { txid: last.txid, id: String(last.pk_entity_change_log) }
      const settlement = ctx.code.settle(results)
      const committed = await ctx.code.commitSettlement(db, schema, settlement, { listenerId, from, to, processed: changes.length, ahead: [], clearAhead: false })
      if (!committed) throw new Error('checkpoint moved')
      phases.read += t1 - t0
      phases.commit += now() - t1
      position = to
      read += changes.length
      batches++
    }
    const seconds = (now() - start) / 1000
    const cpuUsed = await cpu.stop()
    if (read !== rows) throw new Error(`read ${read} of ${rows} rows`)
    const result = {
      rows,
      batch_size: batchSize,
      batches,
      seconds: round(seconds, 3),
      rows_per_s: Math.round(rows / seconds),
      // per batch: the SELECT, then building the log rows and committing them with the checkpoint
      batch_ms: { read: round(phases.read / batches, 3), commit: round(phases.commit / batches, 3) },
      cpu: cpuUsed,
      load_average: loadAverage()
    }
    ctx.progress(`ceiling pg: ${result.rows_per_s} rows/s`)
    return result
  } finally {
    await root.destroy()
    if (!ctx.keepSchemas) await dropSchema(ctx.pool, schema)
  }
}
