// Dead letters: failed actions waiting for an operator.
import { Type } from 'typebox'
import type { JsonObject } from '../../lib/model.js'
import { CursorPaging, DateTimeSchema, Nullable, UuidSchema, cursorPage } from './common.js'

const Text = Type.String({ minLength: 1, maxLength: 200 })

export const DeadLetterFilterSchema = Type.Object({
  observer_id: Type.Optional(UuidSchema),
  action_type: Type.Optional(Text),
  entity_type: Type.Optional(Text)
}, { additionalProperties: false })

export const DeadLetterQuerySchema = Type.Object({
  ...DeadLetterFilterSchema.properties,
  ...CursorPaging
}, { additionalProperties: false })

const NOT_AN_EVENT = 'null for a change-log row that could not be read as an event (its error_code says why)'

export const DeadLetterItemSchema = Type.Object({
  id: UuidSchema,
  observer_id: Nullable(UuidSchema, NOT_AN_EVENT),
  observer_name: Nullable(Type.String()),
  event_id: UuidSchema,
  change_log_id: Nullable(Type.String()),
  entity_type: Type.String(),
  entity_id: Type.String(),
  event_type: Type.String(),
  action_index: Nullable(Type.Integer()),
  action_type: Nullable(Type.String()),
  error_code: Nullable(Type.String()),
  error_message: Nullable(Type.String()),
  attempts: Type.Integer(),
  first_failed_at: DateTimeSchema,
  last_failed_at: DateTimeSchema
}, { title: 'DeadLetter' })

export const DeadLetterDetailSchema = Type.Object({
  ...DeadLetterItemSchema.properties,
  event: Type.Unsafe<JsonObject>({ type: 'object', additionalProperties: true, description: 'The event as the action received it, or the change-log row that could not be read as one' })
}, { title: 'DeadLetterDetail' })

export const DeadLetterPageSchema = cursorPage(DeadLetterItemSchema, 'DeadLetterPage')

export const DeadLetterStatsSchema = Type.Object({
  total: Type.Integer(),
  by_action_type: Type.Array(Type.Object({ action_type: Nullable(Type.String()), count: Type.Integer() })),
  by_observer: Type.Array(Type.Object({ observer_id: Nullable(UuidSchema), observer_name: Nullable(Type.String()), count: Type.Integer() }))
}, { title: 'DeadLetterStats' })

export const RetryResultSchema = Type.Object({
  id: UuidSchema,
  status: Type.Union([Type.Literal('delivered'), Type.Literal('failed')], {
    description: 'delivered: the item is removed (a success is logged); failed: it stays with attempts + 1. For a change-log row that could not be read as an event: delivered when it now reads and every matched action succeeded; once it reads, the item is removed and its actions retry or dead-letter on their own'
  }),
  error_message: Type.Optional(Type.String())
}, { title: 'DeadLetterRetryResult' })

export const RetryAllResultSchema = Type.Object({
  retried: Type.Integer(),
  delivered: Type.Integer(),
  failed: Type.Integer()
}, { title: 'DeadLetterRetryAllResult' })

export const DiscardAllResultSchema = Type.Object({
  discarded: Type.Integer()
}, { title: 'DeadLetterDiscardAllResult' })
