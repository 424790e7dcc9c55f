// Change-log row → ObserverEvent → envelope (SPEC section 8 "Event envelope"). Runs once per row
// on the hot path: no JSON round trips, one pass over the keys of each image.
import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { deepEqual } from '../condition/values.js'
import { dotted, schemaProblem } from '../schema-errors.js'
import {
  MODIFICATION_TYPES,
  type ChangeLogRow, type Changes, type EventEnvelope, type JsonObject, type ModificationType, type ObserverEvent
} from '../model.js'

/** A row whose modification_type is none of INSERT, UPDATE, DELETE, CUSTOM: log it and skip it. */
export class UnknownModificationTypeError extends Error {
  readonly modificationType: string
  readonly changeLogId: string

  constructor (modificationType: string, changeLogId: string) {
    super(`unknown modification_type '${modificationType}' in change-log row ${changeLogId}`)
    this.name = 'UnknownModificationTypeError'
    this.modificationType = modificationType
    this.changeLogId = changeLogId
  }
}

function modificationType (row: ChangeLogRow): ModificationType {
  const type = String(row.modification_type).toUpperCase()
  if (!(MODIFICATION_TYPES as readonly string[]).includes(type)) {
    throw new UnknownModificationTypeError(String(row.modification_type), row.pk_entity_change_log)
  }
  return type as ModificationType
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

/** Throws UnknownModificationTypeError for a row of an unknown kind (the caller logs and skips it). */
export function toEvent (row: ChangeLogRow): ObserverEvent {
  const type = modificationType(row)
  let data = row.object_data
  let before: JsonObject | null = row.object_data_before ?? null
  let changes: Changes | null = null
  if (type === 'INSERT') {
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
    trace_id: row.trace_id,
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
