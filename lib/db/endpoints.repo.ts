// tb_observer_endpoint: each endpoint's circuit, pause and rate-limit clock, shared by every
// instance (see migrations/009-endpoint-protection.ts). A state change writes a CUSTOM change-log
// row (object_type `observers.endpoint`) in its own transaction, so ordinary observers can alert.
import { sql, type Kysely, type Transaction } from 'kysely'
import type { CircuitState, EndpointState } from '../model.js'
import type { Database } from './types.js'

/** The object_type of the change-log rows announcing an endpoint's state changes. */
export const ENDPOINT_EVENT_TYPE = 'observers.endpoint'

export type EndpointChange = 'opened' | 'closed' | 'disabled'

const columns = ['endpoint', 'state', 'opened_at', 'next_probe_at', 'cool_down_ms', 'paused_until', 'generation'] as const

/** An endpoint's shared state and its circuit's generation (bumped by every close: the window counts of one generation). */
export interface EndpointRow extends EndpointState { generation: number }

function toState (row: { endpoint: string, state: string, opened_at: Date | null, next_probe_at: Date | null, cool_down_ms: number, paused_until: Date | null, generation: string }): EndpointRow {
  return { ...row, state: row.state as CircuitState, generation: Number(row.generation) }
}

/** Every endpoint with a row: open, probing, disabled, paused, rate-limited, or closed again. */
export async function loadEndpoints (db: Kysely<Database>): Promise<EndpointRow[]> {
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

/**
 * Opens a closed circuit (true only for the caller that opened it) and announces it; only while
 * the circuit is in `generation`, the one whose window counts decided it (a close since voids them).
 */
export async function openCircuit (db: Kysely<Database>, endpoint: string, coolDownMs: number, observers: readonly string[], generation = 0): Promise<boolean> {
  return await db.transaction().execute(async (trx) => {
    const opened = await trx.insertInto('tb_observer_endpoint')
      .values({ endpoint, state: 'open', opened_at: sql`now()`, next_probe_at: sql`now() + make_interval(secs => ${coolDownMs / 1000})`, cool_down_ms: coolDownMs })
      .onConflict((oc) => oc.column('endpoint').doUpdateSet({
        state: 'open', opened_at: sql`now()`, next_probe_at: sql`now() + make_interval(secs => ${coolDownMs / 1000})`, cool_down_ms: coolDownMs, updated_at: sql`now()`
      }).where('tb_observer_endpoint.state', '=', 'closed').where('tb_observer_endpoint.generation', '=', String(generation)))
      .returning('endpoint').executeTakeFirst()
    if (opened === undefined) return false
    await announce(trx, endpoint, 'opened', observers)
    return true
  })
}

/**
 * Claims the one probe of a circuit whose probe time has come: open after its cool-down, or
 * half-open past the time its last probe was given up on (it ended with no answer, or its
 * instance died). The probe is given up on after `probeMs` or the cool-down, whichever is longer.
 * When another instance has it, says when its probe is given up on.
 */
export async function claimProbe (db: Kysely<Database>, endpoint: string, probeMs: number): Promise<{ claimed: boolean, nextProbeAt: Date | null }> {
  const row = await db.updateTable('tb_observer_endpoint')
    .set({ state: 'half_open', next_probe_at: sql`now() + make_interval(secs => greatest(cool_down_ms, ${probeMs}) / 1000.0)`, updated_at: sql`now()` })
    .where('endpoint', '=', endpoint)
    .where('state', 'in', ['open', 'half_open'])
    .where('next_probe_at', '<=', sql<Date>`now()`)
    .returning('next_probe_at').executeTakeFirst()
  if (row !== undefined) return { claimed: true, nextProbeAt: row.next_probe_at }
  const current = await db.selectFrom('tb_observer_endpoint').select('next_probe_at').where('endpoint', '=', endpoint).executeTakeFirst()
  return { claimed: false, nextProbeAt: current?.next_probe_at ?? null }
}

/**
 * Closes the circuit (a probe got an answer, or an operator reset it); what waited for it is due
 * now. The window starts afresh everywhere: a new generation, the old counts deleted. Returns the
 * new generation, or undefined when the circuit was not in one of `from`.
 */
export async function closeCircuit (db: Kysely<Database>, endpoint: string, observers: readonly string[], from: readonly CircuitState[] = ['open', 'half_open']): Promise<number | undefined> {
  return await db.transaction().execute(async (trx) => {
    const closed = await trx.updateTable('tb_observer_endpoint')
      .set({ state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0, paused_until: null, generation: sql`generation + 1`, updated_at: sql`now()` })
      .where('endpoint', '=', endpoint).where('state', 'in', [...from])
      .returning('generation').executeTakeFirst()
    if (closed === undefined) return undefined
    await trx.deleteFrom('tb_observer_endpoint_window').where('endpoint', '=', endpoint).execute()
    await trx.updateTable('tb_observer_retry').set({ due_at: sql`now()` }).where('endpoint', '=', endpoint).execute()
    await announce(trx, endpoint, 'closed', observers)
    return Number(closed.generation)
  })
}

/**
 * The endpoint answers quickly again: the deliveries waiting (unclaimed) for one of its slots, with
 * `busy` as their last error, are due now; a failed attempt's backoff is left as it is. Answers how many.
 */
export async function slotWaitsDue (db: Kysely<Database>, endpoint: string, busy: string): Promise<number> {
  const result = await db.updateTable('tb_observer_retry').set({ due_at: sql`now()` })
    .where('endpoint', '=', endpoint).where('last_error', '=', busy).where('due_at', '>', sql<Date>`now()`)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', sql<Date>`now()`)]))
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** An operator reset a closed circuit: its window starts afresh everywhere all the same. */
export async function resetWindow (db: Kysely<Database>, endpoint: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('tb_observer_endpoint').set({ generation: sql`generation + 1`, updated_at: sql`now()` }).where('endpoint', '=', endpoint).execute()
    await trx.deleteFrom('tb_observer_endpoint_window').where('endpoint', '=', endpoint).execute()
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

/** Where deliveries stand under their endpoint's rate limit: the first `go` go in `waitMs[i]`, the others wait durably until `at[i]`. */
export interface RateSlots { waitMs: number[], at: number[] }

/**
 * `count` attempts under the endpoint's rate limit (GCRA over a clock shared by every instance,
 * `rate_tat`), in one statement: a slot is reserved only when it comes within `maxWaitMs`, so no
 * reservation is wasted, and the others are told when theirs would come. With `behindQueue` (new
 * deliveries), no slot is taken while deliveries booked earlier still wait for theirs, and those
 * too far off are booked at the end of that queue (`rate_booked`). A re-delivery may be one of
 * them: it takes the next slot when near enough, or comes back when it would be, keeping its place.
 */
export async function takeRateSlots (db: Kysely<Database>, endpoint: string, count: number, intervalMs: number, toleranceMs: number, maxWaitMs: number, behindQueue: boolean): Promise<RateSlots> {
  const take = async () => await db
    .with('cur', (qb) => qb.selectFrom('tb_observer_endpoint')
      .select([sql<Date>`greatest(coalesce(rate_tat, now()), now())`.as('tat'), sql<Date>`greatest(coalesce(rate_booked, now()), now())`.as('booked')])
      .where('endpoint', '=', endpoint).forUpdate())
    .with('w', (qb) => qb.selectFrom('cur').select(['tat', 'booked',
      // how far the next slot is, from the database's clock
      sql<number>`extract(epoch from tat - now()) * 1000 - ${toleranceMs}`.as('wait_ms')]))
    .with('d', (qb) => qb.selectFrom('w').select(['tat', 'booked', 'wait_ms',
      sql<number>`case when ${behindQueue} and booked > tat then 0
        else least(${count}, greatest(0, floor((${maxWaitMs} - wait_ms) / ${intervalMs}) + 1)) end::float8`.as('go')]))
    .updateTable('tb_observer_endpoint as e').from('d')
    .set({
      rate_tat: sql`case when d.go > 0 then d.tat + make_interval(secs => d.go * ${intervalMs} / 1000) else e.rate_tat end`,
      rate_booked: sql`case when ${behindQueue} and d.go < ${count}
        then greatest(d.booked, d.tat + make_interval(secs => d.go * ${intervalMs} / 1000)) + make_interval(secs => (${count} - d.go) * ${intervalMs} / 1000)
        else e.rate_booked end`
    })
    .where('e.endpoint', '=', endpoint)
    .returning(['d.go', 'd.wait_ms',
      sql<number>`extract(epoch from greatest(d.booked, d.tat + make_interval(secs => d.go * ${intervalMs} / 1000)) - now()) * 1000 - ${toleranceMs}`.as('booked_ms')])
    .executeTakeFirst()
  let row = await take()
  if (row === undefined) {
    await db.insertInto('tb_observer_endpoint').values({ endpoint }).onConflict((oc) => oc.column('endpoint').doNothing()).execute()
    row = await take()
  }
  if (row === undefined) throw new Error(`endpoint ${endpoint} has no row`)
  const go = Number(row.go)
  const waitMs = Number(row.wait_ms)
  const firstBooked = Date.now() + (behindQueue ? Number(row.booked_ms) : waitMs + go * intervalMs)
  return {
    waitMs: Array.from({ length: go }, (_, i) => Math.max(0, waitMs + i * intervalMs)),
    at: Array.from({ length: count - go }, (_, i) => firstBooked + i * intervalMs)
  }
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
  const closed = await closeCircuit(db, endpoint, observers, ['open', 'half_open', 'disabled']) !== undefined
  if (!closed) await resetWindow(db, endpoint)
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
