// The keys an ordered observer holds: what blocks each, and how many events wait behind it.
import { Type } from 'typebox'
import { CursorPaging, DateTimeSchema, NextCursorSchema, Nullable, UuidSchema } from './common.js'

export const BlockedKeysQuerySchema = Type.Object({ ...CursorPaging }, { additionalProperties: false })

export const BlockedKeySchema = Type.Object({
  entity_type: Type.String(),
  entity_id: Type.String(),
  blocked_since: DateTimeSchema,
  parked_count: Type.Integer({ description: 'Events of this entity waiting, released in commit order once the blocking delivery resolves' }),
  blocking: Type.Object({
    event_id: Nullable(UuidSchema, 'The event whose delivery holds the key; its retries or dead letter resolve it'),
    change_log_id: Nullable(Type.String()),
    attempts: Type.Integer({ description: 'Attempts made so far of the blocking delivery' }),
    next_retry_at: Nullable(DateTimeSchema, 'When its next attempt is due; null when none is scheduled'),
    dead_letter_id: Nullable(UuidSchema, 'Set when it was dead-lettered and the observer blocks on dead letters: retry or discard it to release the key')
  })
}, { title: 'BlockedKey' })

export const BlockedKeyPageSchema = Type.Object({
  data: Type.Array(BlockedKeySchema, { description: 'Oldest first' }),
  next_cursor: NextCursorSchema
}, { title: 'BlockedKeyPage' })
