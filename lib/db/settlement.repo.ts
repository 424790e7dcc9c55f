// Committing: what finished attempts owe the database (a Settlement: attempt log rows, retries,
// dead letters, holds and parks), written in one transaction together with the checkpoint move of
// the batch they came from (commitSettlement); stored deliveries commit theirs with the end of
// their claims (stored.repo.ts), through the same writeSettlement.
import { sql, type ExpressionBuilder, type Kysely, type OnConflictDatabase, type OnConflictTables, type Transaction } from 'kysely'
import type { KeyHold, RetryToSchedule, Settlement } from '../model.js'
import type { Position } from './change-log.repo.js'
import { advanceCheckpoint, advanceSql, advanceValues } from './checkpoint.repo.js'
import { qualified, statement } from './statements.js'
import type { Database } from './types.js'

const LOG_COLUMNS = `observer_id uuid, event_id uuid, change_log_id bigint, entity_type text, entity_id text,
  event_type text, action_index int, action_type text, status text, attempt_number int, max_attempts int,
  next_retry_ms float8, started_ms float8, duration_ms int, error_code text, error_message text,
  response_status_code int, response_payload text, request_payload jsonb, trace_id text`
const LOG_NAMES = `observer_id, event_id, change_log_id, entity_type, entity_id, event_type, action_index,
  action_type, status, attempt_number, max_attempts, next_retry_at, started_at, completed_at, duration_ms, error_code,
  error_message, response_status_code, response_payload, request_payload, trace_id`
const LOG_VALUES = `observer_id, event_id, change_log_id, entity_type, entity_id, event_type, action_index,
  action_type, status, attempt_number, max_attempts, to_timestamp(next_retry_ms / 1000), to_timestamp(started_ms / 1000),
  to_timestamp((started_ms + duration_ms) / 1000), duration_ms, error_code, error_message, response_status_code,
  response_payload, request_payload, trace_id`

// All attempt rows in one statement with one parameter, a JSON array (`json`, not `jsonb`: it is
// read once); keys left out of a row read as null.
const insertLogs = statement((schema) => `insert into ${qualified(schema, 'tb_observer_log')} (${LOG_NAMES})
  select ${LOG_VALUES} from json_to_recordset($1::json) as x(${LOG_COLUMNS})`)

// Retry rows the same way; times travel as epoch milliseconds. A replay after a crash may schedule
// the same action again: the first schedule stands.
const RETRY_COLUMNS = `observer_id uuid, event_id uuid, change_log_id bigint, action_index int, event json,
  attempt_number int, first_failed_ms float8, due_ms float8, last_error text, endpoint text, claimed_ms float8, claimed_by uuid, waits boolean`
const RETRY_NAMES = `observer_id, event_id, change_log_id, action_index, event, attempt_number, first_failed_at, due_at,
  last_error, endpoint, claimed_until, claimed_by`
const RETRY_VALUES = `observer_id, event_id, change_log_id, action_index, event, attempt_number,
  to_timestamp(first_failed_ms / 1000), to_timestamp(due_ms / 1000), last_error, endpoint, to_timestamp(claimed_ms / 1000), claimed_by`
const retryInsert = (schema: string, param: string, when = ''): string => `insert into ${qualified(schema, 'tb_observer_retry')} (${RETRY_NAMES})
    select ${RETRY_VALUES} from json_to_recordset(${param}::json) as x(${RETRY_COLUMNS}) ${when}
    on conflict (event_id, observer_id, action_index) do nothing`
const insertRetries = statement((schema) => retryInsert(schema, '$1'))

// The common batch, every attempt a success or a retry: the checkpoint move, the log rows and the
// retries in one statement, atomic on its own; the rows are written only when the checkpoint moved.
// The endpoints that deliveries were turned away from (`waits`) are share-locked before any retry
// row is written (an uncorrelated subquery runs once, first), as endpointsReopened() does: a circuit
// closing meanwhile either waits for this commit or is seen by it, and those found closed are due now.
const moveAndLog = statement((schema) => `
  with moved as (${advanceSql(schema, 9)} returning 1),
  logged as (
    insert into ${qualified(schema, 'tb_observer_log')} (${LOG_NAMES})
    select ${LOG_VALUES} from json_to_recordset($7::json) as x(${LOG_COLUMNS})
     where exists (select 1 from moved)),
  locked as (
    select endpoint, state <> 'closed' or coalesce(paused_until > now(), false) as still_waiting
      from ${qualified(schema, 'tb_observer_endpoint')}
     where endpoint in (select endpoint from json_to_recordset($8::json) as w(endpoint text, waits boolean) where waits)
       for share),
  retried as (
    insert into ${qualified(schema, 'tb_observer_retry')} (${RETRY_NAMES})
    select observer_id, event_id, change_log_id, action_index, event, attempt_number, to_timestamp(first_failed_ms / 1000),
           case when waits and not exists (select 1 from locked l where l.endpoint = x.endpoint and l.still_waiting)
                then now() else to_timestamp(due_ms / 1000) end,
           last_error, endpoint, to_timestamp(claimed_ms / 1000), claimed_by
      from json_to_recordset($8::json) as x(${RETRY_COLUMNS})
     where exists (select 1 from moved) and (select count(*) from locked) >= 0
    on conflict (event_id, observer_id, action_index) do nothing)
  select count(*)::int as moved from moved`)

/** The retry rows as one JSON document (`reopened`: endpoints whose waiting deliveries are due at once). */
function retryDocument (retries: readonly RetryToSchedule[], reopened: ReadonlySet<string> = new Set()): string {
  return JSON.stringify(retries.map((r) => ({
    observer_id: r.observer_id,
    event_id: r.event_id,
    change_log_id: r.change_log_id,
    action_index: r.action_index,
    event: r.event,
    attempt_number: r.attempt_number,
    first_failed_ms: r.first_failed_at.getTime(),
    due_ms: r.waitsForCircuit === true && reopened.has(r.endpoint as string) ? Date.now() : r.due_at.getTime(),
    last_error: r.last_error,
    endpoint: r.endpoint,
    claimed_ms: r.claimed_until?.getTime(),
    claimed_by: r.claimed_by,
    waits: r.waitsForCircuit === true
  })))
}

/** The checkpoint move of the batch a settlement came from. */
export interface CheckpointMove {
  listenerId: string
  from: Position
  /** new checkpoint (fast path), or `from` again when the batch was read beyond a stuck horizon */
  to: Position
  processed: number
  /** rows read beyond the horizon: remembered so the fast path skips them later */
  ahead: Array<{ id: string, txid: string }>
  /** the ledger may hold rows the new checkpoint has passed: delete them */
  clearAhead: boolean
  /** the backend whose session holds the listener's lease: the move happens only while it does */
  leasePid?: number
}

/**
 * Writes a batch's settlement with its checkpoint move, atomically. Returns false and writes
 * nothing when the checkpoint moved under it (the lease was lost, or an operator replayed): the
 * caller discards the batch and reads again.
 */
export async function commitSettlement (db: Kysely<Database>, schema: string, settlement: Settlement, checkpoint: CheckpointMove): Promise<boolean> {
  if (settlement.deadLetters.length === 0 && settlement.holds.length === 0 && settlement.parked.length === 0 &&
    checkpoint.ahead.length === 0 && !checkpoint.clearAhead) {
    const [to, toId, processed, listenerId, from, fromId, pid] = advanceValues(checkpoint.listenerId, checkpoint.from, checkpoint.to, checkpoint.processed, checkpoint.leasePid)
    const { rows } = await moveAndLog<{ moved: number }>(db, schema, [to, toId, processed, listenerId, from, fromId, JSON.stringify(settlement.logs), retryDocument(settlement.retries), pid])
    return rows[0].moved === 1
  }
  return await db.transaction().execute(async (trx) => {
    // first, before any retry row is locked: a circuit closing locks its endpoint, then the retries
    const reopened = await endpointsReopened(trx, settlement.retries)
    if (!await advanceWithLedger(trx, schema, checkpoint)) return false
    await writeSettlement(trx, schema, settlement, reopened)
    return true
  })
}

/** The read path's advance past a batch, with the rows it read beyond the horizon kept in (or cleared from) the ahead-ledger. */
async function advanceWithLedger (trx: Transaction<Database>, schema: string, move: CheckpointMove): Promise<boolean> {
  if (!await advanceCheckpoint(trx, schema, move.listenerId, move.from, move.to, move.processed, move.leasePid)) return false
  if (move.ahead.length > 0) {
    await trx.insertInto('tb_change_log_ahead')
      .values(move.ahead.map((a) => ({ listener_id: move.listenerId, change_log_id: a.id, txid: sql`${a.txid}::xid8` as unknown as string })))
      .onConflict((oc) => oc.doNothing())
      .execute()
  }
  if (move.clearAhead) {
    // ledger entries the checkpoint has now passed are no longer needed
    await trx.deleteFrom('tb_change_log_ahead')
      .where('listener_id', '=', move.listenerId)
      .where(sql`(txid, change_log_id)`, '<=', sql`(${move.to.txid}::xid8, ${move.to.id}::bigint)`)
      .execute()
  }
  return true
}

/**
 * Of the endpoints whose circuit turned deliveries away, those closed (and not paused) by now: what
 * waits for them is due at once. The share lock orders this commit with a concurrent close: either
 * the close's wake-up sees these rows, or this read sees the close.
 */
export async function endpointsReopened (trx: Transaction<Database>, retries: readonly RetryToSchedule[]): Promise<Set<string>> {
  const waiting = [...new Set(retries.filter((r) => r.waitsForCircuit === true && r.endpoint != null).map((r) => r.endpoint as string))]
  if (waiting.length === 0) return new Set()
  const rows = await trx.selectFrom('tb_observer_endpoint').select(['endpoint', 'state', 'paused_until'])
    .where('endpoint', 'in', waiting).forShare().execute()
  const stillWaiting = new Set(rows.filter((r) => r.state !== 'closed' || (r.paused_until !== null && r.paused_until.getTime() > Date.now())).map((r) => r.endpoint))
  return new Set(waiting.filter((endpoint) => !stillWaiting.has(endpoint)))
}

export async function writeSettlement (trx: Transaction<Database>, schema: string, { logs, retries, deadLetters, holds, parked }: Settlement, reopened: ReadonlySet<string>): Promise<void> {
  if (logs.length > 0) await insertLogs(trx, schema, [JSON.stringify(logs)])
  if (retries.length > 0) await insertRetries(trx, schema, [retryDocument(retries, reopened)])
  const actions = deadLetters.filter((d) => d.observer_id !== null)
  const changes = deadLetters.filter((d) => d.observer_id === null)
  // the same action (or unreadable change) dead-lettered again, after a crash or a retry: one row, updated
  if (actions.length > 0) {
    await trx.insertInto('tb_observer_dead_letter').values(actions.map((d) => ({ ...d, event: JSON.stringify(d.event) })))
      .onConflict((oc) => oc.columns(['event_id', 'observer_id', 'action_index']).doUpdateSet(failedAgain))
      .execute()
  }
  if (changes.length > 0) {
    await trx.insertInto('tb_observer_dead_letter').values(changes.map((d) => ({ ...d, event: JSON.stringify(d.event) })))
      .onConflict((oc) => oc.column('event_id').where('observer_id', 'is', null).doUpdateSet(failedAgain))
      .execute()
  }
  if (holds.length > 0) {
    // a key held only for parked events has nothing to wait for: the release round may look at it
    await trx.insertInto('tb_observer_key').values(oneHoldPerKey(holds).map((h) => ({ ...h, releasable: h.blocking_event_id === null })))
      // a new blocker replaces the one that resolved; a hold for parked events keeps the blocker
      .onConflict((oc) => oc.columns(['observer_id', 'entity_type', 'entity_id']).doUpdateSet((eb) => ({
        blocking_event_id: sql`coalesce(${eb.ref('excluded.blocking_event_id')}, ${eb.ref('tb_observer_key.blocking_event_id')})`,
        blocking_change_log_id: sql`coalesce(${eb.ref('excluded.blocking_change_log_id')}, ${eb.ref('tb_observer_key.blocking_change_log_id')})`,
        releasable: sql`${eb.ref('excluded.blocking_event_id')} is null and ${eb.ref('tb_observer_key.releasable')}`
      })))
      .execute()
  }
  if (parked.length > 0) {
    // released in change-log id order (ordering.repo.ts releasableKeys); a replay parks once
    await trx.insertInto('tb_observer_parked').values(parked.map((p) => ({ ...p, event: JSON.stringify(p.event) })))
      .onConflict((oc) => oc.columns(['observer_id', 'event_id']).doNothing())
      .execute()
  }
}

/** One row per key (an upsert may not touch a row twice): the latest blocker of each key wins. */
function oneHoldPerKey (holds: readonly KeyHold[]): KeyHold[] {
  const byKey = new Map<string, KeyHold>()
  for (const hold of holds) {
    const key = `${hold.observer_id}\u0000${hold.entity_type}\u0000${hold.entity_id}`
    if (!byKey.has(key) || hold.blocking_event_id !== null) byKey.set(key, hold)
  }
  return [...byKey.values()]
}

const failedAgain = (eb: ExpressionBuilder<OnConflictDatabase<Database, 'tb_observer_dead_letter'>, OnConflictTables<'tb_observer_dead_letter'>>) => ({
  error_code: eb.ref('excluded.error_code'),
  error_message: eb.ref('excluded.error_message'),
  attempts: eb.ref('excluded.attempts'),
  last_failed_at: eb.ref('excluded.last_failed_at'),
  retry_claimed_until: null
})
