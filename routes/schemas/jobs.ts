// Replay, redrive and backfill jobs (SPEC 9.4).
import { Type } from 'typebox'
import { CursorPaging, DateTimeSchema, Nullable, UuidSchema, cursorPage, dateTimeInput } from './common.js'
import { ChangeLogIdInput } from './cursor-input.js'
import { BACKFILL_CHUNK } from '../../lib/runtime/jobs/backfill.js'

const KindSchema = Type.Union([Type.Literal('replay'), Type.Literal('backfill')])
const StatusSchema = (options = {}) => Type.Union([
  Type.Literal('queued'), Type.Literal('running'), Type.Literal('paused'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')
], options)

export const JobSchema = Type.Object({
  id: UuidSchema,
  kind: KindSchema,
  status: StatusSchema({
    description: 'queued -> running -> done | failed; paused (pause) -> queued (resume); cancelled (DELETE) from queued, running or paused'
  }),
  observer_id: Nullable(UuidSchema, 'The observer a replay delivers to; null for a backfill'),
  total: Nullable(Type.Number(), 'Rows the job expects to go through (counted when it was created; null until known)'),
  done: Type.Number({ description: 'Rows gone through so far' }),
  failed: Type.Number({ description: 'Deliveries whose attempt did not succeed (they retry or are dead-lettered as usual)' }),
  rate: Nullable(Type.Number(), 'Rows per second since the job started (until it finished)'),
  created_at: DateTimeSchema,
  started_at: Nullable(DateTimeSchema),
  finished_at: Nullable(DateTimeSchema),
  error: Nullable(Type.String(), 'Why a failed job stopped')
}, { title: 'Job' })

export const JobPageSchema = cursorPage(JobSchema, 'JobPage')

export const JobsQuerySchema = Type.Object({
  status: Type.Optional(StatusSchema()),
  kind: Type.Optional(KindSchema),
  observer_id: Type.Optional(UuidSchema),
  ...CursorPaging
}, { additionalProperties: false })

export const ReplayBodySchema = Type.Object({
  since: Type.Optional(dateTimeInput('Rows written at or after this time')),
  until: Type.Optional(dateTimeInput('Rows written before this time')),
  after_cursor: Type.Optional(ChangeLogIdInput('Rows after this change-log row in commit order ("0": from the start)')),
  to_cursor: Type.Optional(ChangeLogIdInput('Rows up to and including this change-log row in commit order')),
  entity_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  entity_id: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  only_failed: Type.Optional(Type.Boolean({ default: false, description: 'A redrive: only the actions whose last attempt did not succeed (and have no retry scheduled)' })),
  dry_run: Type.Optional(Type.Boolean({ default: false, description: 'Answer how many rows it would go through, and do nothing' }))
}, { additionalProperties: false, description: 'A time window (since/until) or a cursor range (after_cursor/to_cursor), not both; rows written after the request are the live stream\'s' })

export const JobCreatedSchema = Type.Object({ job_id: UuidSchema }, { title: 'JobCreated' })
export const JobEstimateSchema = Type.Object({
  total: Type.Number({ description: 'Rows the job would go through now (for a replay: before conditions are evaluated)' })
}, { title: 'JobEstimate' })

const Scalar = Type.Union([Type.String({ maxLength: 10_000 }), Type.Number(), Type.Boolean()])

export const BackfillBodySchema = Type.Object({
  filter: Type.Optional(Type.Array(Type.Object({
    column: Type.String({ minLength: 1, maxLength: 63, description: 'A column of the table' }),
    op: Type.Union([Type.Literal('='), Type.Literal('!='), Type.Literal('<'), Type.Literal('<='), Type.Literal('>'), Type.Literal('>='), Type.Literal('in')]),
    value: Type.Union([Scalar, Type.Array(Scalar, { minItems: 1, maxItems: 1000 })], { description: 'A list for `in`, one value otherwise; bound as a parameter of the column\'s type' })
  }, { additionalProperties: false }), { maxItems: 20, description: 'All must hold' })),
  entity_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Default: the capture\'s entity type, else the table name' })),
  chunk_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: BACKFILL_CHUNK, description: 'Rows per transaction: while one is open the live stream waits behind it, so small ones keep that wait short' })),
  dry_run: Type.Optional(Type.Boolean({ default: false, description: 'Answer how many rows it would write, and do nothing' }))
}, { additionalProperties: false })
