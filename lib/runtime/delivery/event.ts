// Change-log row → ObserverEvent → envelope (SPEC section 8 "Event envelope"). Runs once per row
// on the hot path: no JSON round trips, one pass over the keys of each image.
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { deepEqual } from '../../condition/values.js'
import { dotted, schemaProblem } from '../../schema-errors.js'
import {
  MODIFICATION_TYPES,
  type ChangeLogRow, type Changes, type EventEnvelope, type JsonObject, type ModificationType, type ObserverEvent
} from '../../model.js'

/** A row that cannot be turned into an event, and why. */
export interface RefusedRow {
  row: ChangeLogRow
  code: string
  message: string
}

/** A change-log row that cannot be an event; it is dead-lettered as a whole with `code`. */
export class UnreadableChangeError extends Error {
  constructor (readonly code: string, message: string, readonly changeLogId: string) {
    super(message)
    this.name = 'UnreadableChangeError'
  }
}

/** A row whose modification_type is none of INSERT, UPDATE, DELETE, CUSTOM, READ. */
export class UnknownModificationTypeError extends UnreadableChangeError {
  constructor (readonly modificationType: string, changeLogId: string) {
    super('UNKNOWN_MODIFICATION_TYPE', `unknown modification_type '${modificationType}' in change-log row ${changeLogId}`, changeLogId)
    this.name = 'UnknownModificationTypeError'
  }
}

/** The largest entity_type + entity_id, in UTF-8 bytes, that the log's index can hold with room to spare. */
export const MAX_ENTITY_KEY_BYTES = 2000
/** A longer trace id is dropped rather than stop the event (a W3C trace id has 32 characters). */
const MAX_TRACE_ID = 256

function modificationType (row: ChangeLogRow): ModificationType {
  const type = String(row.modification_type).toUpperCase()
  if (!(MODIFICATION_TYPES as readonly string[]).includes(type)) {
    throw new UnknownModificationTypeError(String(row.modification_type), row.pk_entity_change_log)
  }
  return type as ModificationType
}

/** An image is a JSON object or absent; jsonb also holds arrays and scalars, which no observer can read. */
function image (row: ChangeLogRow, column: 'object_data' | 'object_data_before'): JsonObject | null {
  const value: unknown = row[column]
  if (value === null || value === undefined) return null
  if (typeof value === 'object' && !Array.isArray(value)) return value as JsonObject
  const kind = Array.isArray(value) ? 'an array' : `a ${typeof value}`
  throw new UnreadableChangeError('INVALID_DATA', `${column} of change-log row ${row.pk_entity_change_log} is ${kind}, not a JSON object`, row.pk_entity_change_log)
}

function checkKey (row: ChangeLogRow): void {
  const type = row.object_type
  const id = row.object_id
  // UTF-8 takes at most 3 bytes per UTF-16 unit: the exact count is needed only for long keys
  if ((type.length + id.length) * 3 <= MAX_ENTITY_KEY_BYTES) return
  const bytes = Buffer.byteLength(type) + Buffer.byteLength(id)
  if (bytes > MAX_ENTITY_KEY_BYTES) {
    throw new UnreadableChangeError('ENTITY_KEY_TOO_LONG', `object_type and object_id of change-log row ${row.pk_entity_change_log} take ${bytes} bytes; at most ${MAX_ENTITY_KEY_BYTES} can be indexed`, row.pk_entity_change_log)
  }
}

function read (image: JsonObject, key: string): unknown {
  return Object.hasOwn(image, key) ? image[key] : null
}

/**
 * Every top-level key whose value differs between the images, `{ old, new }`. A key absent from
 * one image reads as null there, so a key absent on one side and null on the other is no change.
 */
export function diffImages (before: JsonObject, after: JsonObject | null): Changes {
  const next = after ?? {}
  const changes: Changes = {}
  for (const key of Object.keys(before)) {
    const old = before[key] ?? null
    const now = read(next, key) ?? null
    if (!deepEqual(old, now)) changes[key] = { old, new: now }
  }
  for (const key of Object.keys(next)) {
    if (Object.hasOwn(before, key)) continue
    const now = next[key] ?? null
    if (now !== null) changes[key] = { old: null, new: now }
  }
  return changes
}

/** Throws UnreadableChangeError for a row that cannot be an event (the caller dead-letters it). */
export function toEvent (row: ChangeLogRow): ObserverEvent {
  const type = modificationType(row)
  let data = image(row, 'object_data')
  let before = image(row, 'object_data_before')
  checkKey(row)
  let changes: Changes | null = null
  if (type === 'INSERT' || type === 'READ') {
    before = null
  } else if (type === 'UPDATE') {
    changes = before === null ? null : diffImages(before, data)
  } else if (type === 'DELETE') {
    // The row is gone: both members carry its last state.
    data = before ?? data
    before = data
  }
  return {
    event_id: row.id,
    event_type: type,
    entity_type: row.object_type,
    entity_id: row.object_id,
    tenant_id: row.tenant_id,
    user_id: row.user_id,
    timestamp: row.created_at.toISOString(),
    data,
    before,
    changes,
    trace_id: row.trace_id !== null && row.trace_id.length > MAX_TRACE_ID ? null : row.trace_id,
    traceparent: row.traceparent ?? null,
    tracestate: row.tracestate ?? null,
    change_log_id: row.pk_entity_change_log
  }
}

/** The default webhook body: the event without its internal ids, plus the matching observer. */
export function toEnvelope (event: ObserverEvent, observer: { id: string, name: string }): EventEnvelope {
  return {
    event_id: event.event_id,
    event_type: event.event_type,
    entity_type: event.entity_type,
    entity_id: event.entity_id,
    tenant_id: event.tenant_id,
    user_id: event.user_id,
    timestamp: event.timestamp,
    data: event.data,
    before: event.before,
    changes: event.changes,
    observer: { id: observer.id, name: observer.name }
  }
}

const Nullable = <T extends Parameters<typeof Type.Optional>[0]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]))
const Image = Type.Record(Type.String(), Type.Unknown())

/** An event as stored with a retry or a dead letter (the JSON of an ObserverEvent). */
const StoredEventSchema = Type.Object({
  event_id: Type.String({ format: 'uuid' }),
  event_type: Type.Union(MODIFICATION_TYPES.map((type) => Type.Literal(type))),
  entity_type: Type.String(),
  entity_id: Type.String(),
  tenant_id: Nullable(Type.String()),
  user_id: Nullable(Type.String()),
  timestamp: Type.String(),
  data: Nullable(Image),
  before: Nullable(Image),
  changes: Nullable(Type.Record(Type.String(), Type.Object({ old: Type.Unknown(), new: Type.Unknown() }))),
  trace_id: Nullable(Type.String()),
  traceparent: Nullable(Type.String()),
  tracestate: Nullable(Type.String()),
  change_log_id: Nullable(Type.String({ pattern: '^[0-9]+$' }))
})
const storedEvent = Compile(StoredEventSchema)

/** A stored event checked against its schema (never cast): the event, or what is wrong with it. */
export function parseStoredEvent (value: unknown): ObserverEvent | { problem: string } {
  if (!storedEvent.Check(value)) {
    const { path, message } = schemaProblem(storedEvent.Errors(value))
    return { problem: `stored event${path === '' ? '' : ` ${dotted(path)}`} ${message}` }
  }
  return {
    event_id: value.event_id,
    event_type: value.event_type,
    entity_type: value.entity_type,
    entity_id: value.entity_id,
    tenant_id: value.tenant_id ?? null,
    user_id: value.user_id ?? null,
    timestamp: value.timestamp,
    data: value.data ?? null,
    before: value.before ?? null,
    changes: value.changes ?? null,
    trace_id: value.trace_id ?? null,
    traceparent: value.traceparent ?? null,
    tracestate: value.tracestate ?? null,
    change_log_id: value.change_log_id ?? null
  }
}
