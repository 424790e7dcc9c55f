// The change log, listener checkpoints and the capture trigger.
import { Type } from 'typebox'
import { ChangeLogIdInput } from './cursor-input.js'
import { DateTimeSchema, JsonObjectSchema, Nullable, UuidSchema } from './common.js'

const Json = Nullable(JsonObjectSchema)

export const ChangeLogQuerySchema = Type.Object({
  after_cursor: Type.Optional(Type.String({
    pattern: '^(0|[1-9][0-9]{0,17}|[0-9]{1,20}:[1-9][0-9]{0,18})$',
    description: 'An entry\'s cursor (`<txid>:<id>`, as next_cursor gives it): the rows after it in commit order. ' +
      'A bare change-log id reads after that row\'s place; "0" (the default) is the start of the log'
  })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  object_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
}, { additionalProperties: false })

export const ChangeLogEntrySchema = Type.Object({
  id: Type.String({ description: 'Change-log id: the cursor of this listing, of checkpoints and of dry runs' }),
  event_id: UuidSchema,
  object_type: Type.String(),
  object_id: Type.String(),
  modification_type: Type.String(),
  object_data: Json,
  object_data_before: Json,
  updated_fields: Nullable(Type.Array(Type.String())),
  tenant_id: Nullable(Type.String()),
  user_id: Nullable(Type.String()),
  trace_id: Nullable(Type.String()),
  extra_metadata: Json,
  created_at: DateTimeSchema
}, { title: 'ChangeLogEntry' })

export const PagedChangeLogEntrySchema = Type.Object({
  ...ChangeLogEntrySchema.properties,
  cursor: Type.String({ description: 'This row\'s place in commit order (`<txid>:<id>`): pass it as after_cursor to read on after it' })
}, { title: 'PagedChangeLogEntry' })

export const ChangeLogPageSchema = Type.Object({
  entries: Type.Array(PagedChangeLogEntrySchema, {
    description: 'In the reader\'s commit order: rows of transactions that have all ended, by (transaction id, id). ' +
      'A row whose transaction is still open, and the rows of later transactions, come once it ends: a consumer paging the log never skips one'
  }),
  next_cursor: Nullable(Type.String(), 'Pass as after_cursor for the next page; null on the last page (to wait for more, pass the last entry\'s cursor later)')
}, { title: 'ChangeLogPage' })

export const ListenerParamsSchema = Type.Object({
  listener_id: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.:-]+$' })
}, { additionalProperties: false })

export const CheckpointSchema = Type.Object({
  listener_id: Type.String(),
  after_cursor: Type.String({ description: 'The listener reads the rows after this change-log id (in commit order)' }),
  updated_at: DateTimeSchema,
  event_count: Type.Integer(),
  last_error: Nullable(Type.String())
}, { title: 'Checkpoint' })

export const MoveCheckpointSchema = Type.Object({
  after_cursor: ChangeLogIdInput('A change-log id; rows after it are read again with their original idempotency keys. "0" = the start of the log')
}, { additionalProperties: false })

const Identifier = Type.String({ minLength: 1, maxLength: 63 })

export const CaptureSchema = Type.Object({
  schema: Type.String(),
  table: Type.String(),
  entity_type: Type.String(),
  id_column: Type.String()
}, { title: 'Capture' })

export const AttachCaptureSchema = Type.Object({
  table: Identifier,
  schema: Type.Optional(Type.String({ minLength: 1, maxLength: 63, default: 'public' })),
  entity_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Default: the table name' })),
  id_column: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'Default: the primary key column' }))
}, { additionalProperties: false })

export const CaptureParamsSchema = Type.Object({ schema: Identifier, table: Identifier }, { additionalProperties: false })
