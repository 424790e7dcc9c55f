// tb_observer_job: durable replay and backfill jobs (migrations/018-jobs.ts). Every status change
// goes through the transition table (runtime/jobs/transitions.ts) as `status = any(<from>)`, and a
// worker's writes check its claim token in the same statement: a worker whose lease ran out and
// passed to another instance writes nothing.
import { sql, type Kysely, type Transaction } from 'kysely'
import { movableFrom, targetOf, type JobKind, type JobMove, type JobStatus } from '../runtime/jobs/transitions.js'
import type { TenantScope } from './tenant-scope.js'
import type { Database } from './types.js'

export interface JobRow {
  pk: string
  id: string
  kind: JobKind
  status: JobStatus
  observer_id: string | null
  tenant_id: string | null
  params: Record<string, unknown>
  cursor: Record<string, unknown> | null
  total: number | null
  done: number
  failed: number
  error: string | null
  created_at: Date
  started_at: Date | null
  finished_at: Date | null
  updated_at: Date
}

type Db = Kysely<Database> | Transaction<Database>

const columns = sql`pk_observer_job::text as pk, id::text as id, kind, status, observer_id::text as observer_id, tenant_id, params, cursor,
  total::float8 as total, done::float8 as done, failed::float8 as failed, error, created_at, started_at, finished_at, updated_at`

const table = (schema: string) => sql.id(schema, 'tb_observer_job')

export interface NewJob {
  kind: JobKind
  observer_id: string | null
  tenant_id: string | null
  params: Record<string, unknown>
  cursor: Record<string, unknown> | null
  total: number | null
}

export async function insertJob (db: Db, schema: string, job: NewJob): Promise<JobRow> {
  const { rows } = await sql<JobRow>`insert into ${table(schema)} (kind, observer_id, tenant_id, params, cursor, total)
    values (${job.kind}, ${job.observer_id}, ${job.tenant_id}, ${JSON.stringify(job.params)}::jsonb, ${job.cursor === null ? null : JSON.stringify(job.cursor)}::jsonb, ${job.total})
    returning ${columns}`.execute(db)
  return rows[0]
}

const scoped = (scope: TenantScope | undefined) => scope === undefined ? sql`true` : sql`tenant_id is not distinct from ${scope.tenant}`

export async function getJob (db: Db, schema: string, id: string, scope?: TenantScope): Promise<JobRow | undefined> {
  const { rows } = await sql<JobRow>`select ${columns} from ${table(schema)} where id = ${id} and ${scoped(scope)}`.execute(db)
  return rows[0]
}

export interface JobFilter { status?: JobStatus, kind?: JobKind, observer_id?: string }

/** Newest first, keyset-paginated by the internal id. */
export async function listJobs (db: Db, schema: string, filter: JobFilter, limit: number, before: string | undefined, scope: TenantScope | undefined): Promise<{ data: JobRow[], next: string | null }> {
  const { rows } = await sql<JobRow>`select ${columns} from ${table(schema)}
    where ${scoped(scope)}
      and (${filter.status ?? null}::text is null or status = ${filter.status ?? null})
      and (${filter.kind ?? null}::text is null or kind = ${filter.kind ?? null})
      and (${filter.observer_id ?? null}::uuid is null or observer_id = ${filter.observer_id ?? null}::uuid)
      and (${before ?? null}::bigint is null or pk_observer_job < ${before ?? null}::bigint)
    order by pk_observer_job desc limit ${limit + 1}`.execute(db)
  const data = rows.slice(0, limit)
  return { data, next: rows.length > limit ? data[data.length - 1].pk : null }
}

/**
 * An operator's move (pause, resume, cancel): the job after it, or undefined when the table
 * refuses it from the job's status (or the job is not there). A final status records its time.
 * The claim stays: the worker commits the step in flight, then sees the status and lets go.
 */
export async function moveJob (db: Db, schema: string, id: string, move: JobMove, scope?: TenantScope): Promise<JobRow | undefined> {
  const to = targetOf(move)
  const { rows } = await sql<JobRow>`update ${table(schema)}
    set status = ${to}, updated_at = now(),
        finished_at = case when ${to} in ('done', 'failed', 'cancelled') then now() else finished_at end
    where id = ${id} and status = any(${movableFrom(move)}::text[]) and ${scoped(scope)}
    returning ${columns}`.execute(db)
  return rows[0]
}

/** Claims the oldest job that may run (queued, or running with a lapsed lease), skipping those another worker holds. */
export async function claimJob (db: Db, schema: string, token: string, leaseMs: number): Promise<JobRow | undefined> {
  const { rows } = await sql<JobRow>`update ${table(schema)}
    set status = 'running', claimed_by = ${token}, claimed_until = now() + ${leaseMs} * interval '1 millisecond',
        started_at = coalesce(started_at, now()), updated_at = now()
    where pk_observer_job = (
      select pk_observer_job from ${table(schema)}
       where status = any(${movableFrom('claim')}::text[]) and (status = 'queued' or claimed_until < now())
       order by pk_observer_job limit 1 for update skip locked)
    returning ${columns}`.execute(db)
  return rows[0]
}

/** Extends the claim; the job's status, or undefined when the claim is no longer this worker's. */
export async function extendClaim (db: Db, schema: string, pk: string, token: string, leaseMs: number): Promise<JobStatus | undefined> {
  const { rows } = await sql<{ status: JobStatus }>`update ${table(schema)}
    set claimed_until = now() + ${leaseMs} * interval '1 millisecond'
    where pk_observer_job = ${pk} and claimed_by = ${token} returning status`.execute(db)
  return rows[0]?.status
}

/**
 * A step's progress, in the transaction that writes what the step owes: the cursor moves and the
 * counts grow only while the claim is this worker's. The job's status then (an operator may have
 * paused or cancelled it meanwhile), or undefined when the claim was lost.
 */
export async function recordProgress (trx: Transaction<Database>, schema: string, pk: string, token: string, step: { cursor: Record<string, unknown>, done: number, failed: number, leaseMs: number }): Promise<JobStatus | undefined> {
  const { rows } = await sql<{ status: JobStatus }>`update ${table(schema)}
    set cursor = ${JSON.stringify(step.cursor)}::jsonb, done = done + ${step.done}, failed = failed + ${step.failed},
        claimed_until = now() + ${step.leaseMs} * interval '1 millisecond', updated_at = now()
    where pk_observer_job = ${pk} and claimed_by = ${token} returning status`.execute(trx)
  return rows[0]?.status
}

/** The worker's own move (finish, fail, release) under its claim; a job an operator moved meanwhile only loses the claim. */
export async function endClaim (db: Db, schema: string, pk: string, token: string, move: 'finish' | 'fail' | 'release', error?: string): Promise<void> {
  const to = targetOf(move)
  await sql`update ${table(schema)}
    set status = case when status = any(${movableFrom(move)}::text[]) then ${to} else status end,
        finished_at = case when status = any(${movableFrom(move)}::text[]) and ${to} in ('done', 'failed') then now() else finished_at end,
        error = coalesce(${error ?? null}, error),
        claimed_by = null, claimed_until = null, updated_at = now()
    where pk_observer_job = ${pk} and claimed_by = ${token}`.execute(db)
}

/** The total, once a job has counted it. */
export async function setTotal (db: Db, schema: string, pk: string, total: number): Promise<void> {
  await sql`update ${table(schema)} set total = ${total} where pk_observer_job = ${pk}`.execute(db)
}

/** The database's clock (a replay window ends where the live stream starts: rows written before the request). */
export async function dbNow (db: Db): Promise<string> {
  const { rows } = await sql<{ now: string }>`select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as now`.execute(db)
  return rows[0].now
}
