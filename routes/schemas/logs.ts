// Execution log and per-observer statistics.
import { Type } from 'typebox'
import { CursorPaging, DateTimeSchema, Nullable, UuidSchema, cursorPage, dateTimeInput } from './common.js'

const Text = Type.String({ minLength: 1, maxLength: 1000 })

const logFilters = {
  status: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: 'success, failed, timeout, skipped, cancelled, ...' })),
  event_id: Type.Optional(UuidSchema),
  entity_type: Type.Optional(Text),
  entity_id: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'Needs entity_type (ids are unique within an entity type)' })),
  trace_id: Type.Optional(Text),
  since: Type.Optional(dateTimeInput('Attempts logged at or after this time')),
  until: Type.Optional(dateTimeInput('Attempts logged before this time')),
  ...CursorPaging
}

export const LogQuerySchema = Type.Object({ observer_id: Type.Optional(UuidSchema), ...logFilters }, { additionalProperties: false })
export const ObserverLogQuerySchema = Type.Object(logFilters, { additionalProperties: false })

const RequestPayloadSchema = Type.Object({
  method: Type.String(),
  url: Type.String({ description: 'Credentials and query values replaced by REDACTED (a Slack webhook\'s whole path too)' }),
  headers: Type.Record(Type.String(), Type.String(), { description: 'Configured header values and the signature redacted' }),
  body: Type.String({ description: 'The start of the body, at most 4 KiB of UTF-8' }),
  body_bytes: Type.Integer({ description: 'The size of the whole body' }),
  subject: Type.Optional(Type.String({ description: 'Message actions (nats): the subject it was published to' }))
}, { title: 'RequestPayload' })

export const LogEntrySchema = Type.Object({
  id: Type.String({ description: 'Log row id (integer as text); newer rows have higher ids' }),
  observer_id: UuidSchema,
  event_id: UuidSchema,
  change_log_id: Nullable(Type.String()),
  entity_type: Type.String(),
  entity_id: Type.String(),
  event_type: Type.String(),
  action_index: Type.Integer(),
  action_type: Type.String(),
  status: Type.String(),
  attempt_number: Type.Integer(),
  max_attempts: Type.Integer(),
  next_retry_at: Nullable(DateTimeSchema),
  started_at: DateTimeSchema,
  completed_at: Nullable(DateTimeSchema),
  duration_ms: Nullable(Type.Integer()),
  error_code: Nullable(Type.String()),
  error_message: Nullable(Type.String()),
  response_status_code: Nullable(Type.Integer()),
  response_payload: Nullable(Type.String(), 'The target\'s answer, cut to 4 KiB'),
  request_payload: Nullable(RequestPayloadSchema, 'What a failed HTTP or NATS attempt sent; null for successes and other actions'),
  trace_id: Nullable(Type.String()),
  created_at: DateTimeSchema
}, { title: 'LogEntry' })

export const LogPageSchema = cursorPage(LogEntrySchema, 'LogPage')

export const StatsQuerySchema = Type.Object({
  since: Type.Optional(dateTimeInput('Count attempts logged (and dead letters last failed) at or after this time'))
}, { additionalProperties: false })

export const ObserverStatsSchema = Type.Object({
  observer_id: UuidSchema,
  name: Type.String(),
  total: Type.Integer({ description: 'Attempts logged, every status' }),
  success: Type.Integer(),
  failed: Type.Integer(),
  timeout: Type.Integer(),
  skipped: Type.Integer(),
  dead_letters: Type.Integer({ description: 'Dead letters waiting for an operator' }),
  success_rate: Nullable(Type.Number({ minimum: 0, maximum: 1 }), 'success / (success + failed + timeout); null before any finished attempt'),
  avg_duration_ms: Nullable(Type.Number()),
  p95_duration_ms: Nullable(Type.Number()),
  last_run_at: Nullable(DateTimeSchema, 'Start of the latest attempt')
}, { title: 'ObserverStats' })

export const StatsListSchema = Type.Object({ data: Type.Array(ObserverStatsSchema) }, { title: 'ObserverStatsList' })
