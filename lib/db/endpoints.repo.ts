// tb_observer_endpoint: each endpoint's circuit, pause and rate-limit clock, shared by every
// instance (see migrations/009-endpoint-protection.ts). A state change writes a CUSTOM change-log
// row (object_type `observers.endpoint`) in its own transaction, so ordinary observers can alert.
import { sql, type Kysely, type Transaction } from 'kysely'
import type { CircuitState, EndpointState } from '../model.js'
import type { Database } from './types.js'

/** The object_type of the change-log rows announcing an endpoint's state changes. */
export const ENDPOINT_EVENT_TYPE = 'observers.endpoint'

export type EndpointChange = 'opened' | 'closed' | 'disabled'

const columns = ['endpoint', 'state', 'opened_at', 'next_probe_at', 'cool_down_ms', 'paused_until'] as const

function toState (row: { endpoint: string, state: string, opened_at: Date | null, next_probe_at: Date | null, cool_down_ms: number, paused_until: Date | null }): EndpointState {
  return { ...row, state: row.state as CircuitState }
}

/** Every endpoint with a row: open, probing, disabled, paused, rate-limited, or closed again. */
export async function loadEndpoints (db: Kysely<Database>): Promise<EndpointState[]> {
  const rows = await db.selectFrom('tb_observer_endpoint').select(columns).orderBy('endpoint').execute()
  return rows.map(toState)
}

async function announce (trx: Transaction<Database>, endpoint: string, change: EndpointChange, observers: readonly string[]): Promise<void> {
  await trx.insertInto('tb_entity_change_log').values({
    object_type: ENDPOINT_EVENT_TYPE,
    object_id: endpoint,
    modification_type: 'CUSTOM',
    object_data: JSON.stringify({ endpoint, state: change, observers })
  }).execute()
}

/** Opens a closed circuit (true only for the caller that opened it) and announces it. */
export async function openCircuit (db: Kysely<Database>, endpoint: string, coolDownMs: number, observers: readonly string[]): Promise<boolean> {
  return await db.transaction().execute(async (trx) => {
    const opened = await trx.insertInto('tb_observer_endpoint')
      .values({ endpoint, state: 'open', opened_at: sql`now()`, next_probe_at: sql`now() + make_interval(secs => ${coolDownMs / 1000})`, cool_down_ms: coolDownMs })
      .onConflict((oc) => oc.column('endpoint').doUpdateSet({
        state: 'open', opened_at: sql`now()`, next_probe_at: sql`now() + make_interval(secs => ${coolDownMs / 1000})`, cool_down_ms: coolDownMs, updated_at: sql`now()`
      }).where('tb_observer_endpoint.state', '=', 'closed'))
      .returning('endpoint').executeTakeFirst()
    if (opened === undefined) return false
    await announce(trx, endpoint, 'opened', observers)
    return true
  })
}

/** Claims the one probe of an open circuit whose cool-down is over; the probe is given up on after `probeMs`. */
export async function claimProbe (db: Kysely<Database>, endpoint: string, probeMs: number): Promise<boolean> {
  const row = await db.updateTable('tb_observer_endpoint')
    .set({ state: 'half_open', next_probe_at: sql`now() + make_interval(secs => ${probeMs / 1000})`, updated_at: sql`now()` })
    .where('endpoint', '=', endpoint)
    .where((eb) => eb.or([
      eb.and([eb('state', '=', 'open'), eb('next_probe_at', '<=', sql<Date>`now()`)]),
      // a probe whose instance died is given up on
      eb.and([eb('state', '=', 'half_open'), eb('next_probe_at', '<=', sql<Date>`now()`)])
    ]))
    .returning('endpoint').executeTakeFirst()
  return row !== undefined
}

/** Closes the circuit (a probe succeeded, or an operator reset it); what waited for it is due now. */
export async function closeCircuit (db: Kysely<Database>, endpoint: string, observers: readonly string[], from: readonly CircuitState[] = ['open', 'half_open']): Promise<boolean> {
  return await db.transaction().execute(async (trx) => {
    const closed = await trx.updateTable('tb_observer_endpoint')
      .set({ state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0, paused_until: null, updated_at: sql`now()` })
      .where('endpoint', '=', endpoint).where('state', 'in', [...from])
      .returning('endpoint').executeTakeFirst()
    if (closed === undefined) return false
    await trx.updateTable('tb_observer_retry').set({ due_at: sql`now()` }).where('endpoint', '=', endpoint).execute()
    await announce(trx, endpoint, 'closed', observers)
    return true
  })
}

/** The probe failed: open again, for a longer cool-down. */
export async function probeFailed (db: Kysely<Database>, endpoint: string, coolDownMs: number): Promise<void> {
  await db.updateTable('tb_observer_endpoint')
    .set({ state: 'open', next_probe_at: sql`now() + make_interval(secs => ${coolDownMs / 1000})`, cool_down_ms: coolDownMs, updated_at: sql`now()` })
    .where('endpoint', '=', endpoint).where('state', '=', 'half_open')
    .execute()
}

/** A 429 with Retry-After: the whole endpoint waits until then (a later pause wins). */
export async function pauseEndpoint (db: Kysely<Database>, endpoint: string, untilMs: number): Promise<void> {
  const until = new Date(untilMs)
  await db.insertInto('tb_observer_endpoint').values({ endpoint, paused_until: until })
    .onConflict((oc) => oc.column('endpoint').doUpdateSet({
      paused_until: sql`greatest(${sql.ref('tb_observer_endpoint.paused_until')}, ${until})`, updated_at: sql`now()`
    }))
    .execute()
}

/**
 * Reserves `count` attempts under the endpoint's rate limit (GCRA over a clock shared by every
 * instance): returns the clock after the reservation and the database's now, in epoch ms.
 */
export async function reserveRate (db: Kysely<Database>, endpoint: string, intervalMs: number, count: number): Promise<{ tat: number, now: number }> {
  const step = sql`make_interval(secs => ${(intervalMs * count) / 1000})`
  const row = await db.insertInto('tb_observer_endpoint').values({ endpoint, rate_tat: sql`now() + ${step}` })
    .onConflict((oc) => oc.column('endpoint').doUpdateSet({
      rate_tat: sql`greatest(coalesce(${sql.ref('tb_observer_endpoint.rate_tat')}, now()), now()) + ${step}`
    }))
    .returning([sql<number>`extract(epoch from rate_tat) * 1000`.as('tat'), sql<number>`extract(epoch from now()) * 1000`.as('now')])
    .executeTakeFirstOrThrow()
  return { tat: Number(row.tat), now: Number(row.now) }
}

/**
 * Disables every endpoint open for `disableAfterMs`: its waiting retries become dead letters
 * (ENDPOINT_DISABLED) and each observer `observersOf` names is disabled with a reason.
 */
export async function disableEndpoints (db: Kysely<Database>, disableAfterMs: number, observersOf: (endpoint: string) => readonly string[]): Promise<string[]> {
  return await db.transaction().execute(async (trx) => {
    const rows = await trx.updateTable('tb_observer_endpoint')
      .set({ state: 'disabled', updated_at: sql`now()` })
      .where('state', 'in', ['open', 'half_open'])
      .where('opened_at', '<=', sql<Date>`now() - make_interval(secs => ${disableAfterMs / 1000})`)
      .returning('endpoint').execute()
    for (const { endpoint } of rows) {
      const observers = observersOf(endpoint)
      await trx.insertInto('tb_observer_dead_letter')
        .columns(['observer_id', 'observer_name', 'event_id', 'change_log_id', 'entity_type', 'entity_id', 'event_type', 'tenant_id',
          'action_index', 'action_type', 'event', 'error_code', 'error_message', 'attempts', 'first_failed_at', 'last_failed_at'])
        .expression((eb) => eb.selectFrom('tb_observer_retry as r')
          .leftJoin('tb_observer as o', 'o.id', 'r.observer_id')
          .select([
            'r.observer_id', sql<string>`coalesce(o.name, '')`.as('observer_name'), 'r.event_id', 'r.change_log_id',
            sql<string>`r.event->>'entity_type'`.as('entity_type'), sql<string>`r.event->>'entity_id'`.as('entity_id'),
            sql<string>`r.event->>'event_type'`.as('event_type'), sql<string | null>`r.event->>'tenant_id'`.as('tenant_id'),
            'r.action_index', sql<string>`coalesce(o.actions->r.action_index->>'type', 'webhook')`.as('action_type'), sql<unknown>`r.event::jsonb`.as('event'),
            sql<string>`'ENDPOINT_DISABLED'`.as('error_code'),
            sql<string>`${`the endpoint ${endpoint} was disabled after its circuit stayed open`}`.as('error_message'),
            sql<number>`greatest(r.attempt_number - 1, 0)`.as('attempts'), 'r.first_failed_at', sql<Date>`now()`.as('last_failed_at')
          ])
          .where('r.endpoint', '=', endpoint))
        .onConflict((oc) => oc.columns(['event_id', 'observer_id', 'action_index']).doNothing())
        .execute()
      await trx.deleteFrom('tb_observer_retry').where('endpoint', '=', endpoint).execute()
      if (observers.length > 0) {
        await trx.updateTable('tb_observer')
          .set({ enabled: false, disabled_reason: `endpoint ${endpoint} disabled: its circuit stayed open`, updated_at: sql`now()` })
          .where('id', 'in', [...observers]).where('deleted_at', 'is', null)
          .execute()
      }
      await announce(trx, endpoint, 'disabled', observers)
    }
    return rows.map((r) => r.endpoint)
  })
}

/** Operators' reset: the circuit closes; with `enableObservers`, the observers it disabled are enabled again. */
export async function resetEndpoint (db: Kysely<Database>, endpoint: string, observers: readonly string[], enableObservers: boolean): Promise<boolean> {
  const closed = await closeCircuit(db, endpoint, observers, ['open', 'half_open', 'disabled'])
  if (enableObservers) {
    await db.updateTable('tb_observer').set({ enabled: true, disabled_reason: null, updated_at: sql`now()` })
      .where('disabled_reason', '=', `endpoint ${endpoint} disabled: its circuit stayed open`).where('deleted_at', 'is', null)
      .execute()
  }
  return closed
}

/** Deliveries waiting in the retry schedule, per endpoint. */
export async function waitingByEndpoint (db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db.selectFrom('tb_observer_retry').select(['endpoint', sql<string>`count(*)::text`.as('n')])
    .where('endpoint', 'is not', null).groupBy('endpoint').execute()
  return new Map(rows.map((r) => [r.endpoint as string, Number(r.n)]))
}
