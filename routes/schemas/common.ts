// Shapes every admin route shares: the error body, ids, nullable fields, response status sets.
import { Type, type TSchema } from 'typebox'
import type { JsonObject } from '../../lib/model.js'
import { explainPattern } from '../../lib/schema-errors.js'

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  /** stable machine code, OBS_ERR_* */
  code: Type.String({ description: 'Stable machine code (OBS_ERR_*)' }),
  error: Type.String({ description: 'HTTP status text' }),
  message: Type.String({ description: 'What is wrong, naming the field when a request part is invalid' })
}, { title: 'Error', description: 'Error body: Fastify\'s shape with a stable OBS_ERR_* code' })

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (OBS_ERR_VALIDATION names the field; OBS_ERR_INVALID_ID for a malformed id)',
  401: 'Missing or invalid bearer token (OBS_ERR_UNAUTHORIZED)',
  403: 'The request\'s tenant may not do this (OBS_ERR_FORBIDDEN)',
  404: 'Not found, or not visible to the request\'s tenant (OBS_ERR_NOT_FOUND)',
  409: 'Conflict with the current state',
  413: 'Body larger than the admin API\'s limit (OBS_ERR_BODY_TOO_LARGE)',
  415: 'Body is not JSON (OBS_ERR_UNSUPPORTED_MEDIA_TYPE)',
  500: 'Internal error; the body never carries SQL or stacks (OBS_ERR_INTERNAL)'
}

/** Error responses of a route: 400, 401 and 500 always, plus the given statuses. */
export function errors (...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const status of [400, 401, ...statuses, 500].sort()) {
    out[status] = Type.Object(ErrorSchema.properties, { description: ERROR_DESCRIPTIONS[status] })
  }
  return out
}

/** Error responses of a route taking a JSON body (adds 413 and 415). */
export function bodyErrors (...statuses: number[]): Record<number, TSchema> {
  return errors(413, 415, ...statuses)
}

export const Nullable = <T extends TSchema>(schema: T, description?: string) =>
  Type.Union([schema, Type.Null()], description === undefined ? {} : { description })

export const UuidSchema = Type.String({ format: 'uuid' })
/** A timestamp as served: handlers return Dates, the serializer writes ISO 8601. */
export const DateTimeSchema = Type.Unsafe<Date | string>({ type: 'string', format: 'date-time' })
/**
 * A time a client sends. RFC 3339 allows a leap second (`:60`), which a JavaScript Date cannot
 * hold: refused here rather than reaching PostgreSQL as an invalid date.
 */
export function dateTimeInput (description?: string) {
  return Type.String({
    format: 'date-time',
    pattern: explainPattern('^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-5]', 'must have seconds from 00 to 59 (leap seconds are not supported)'),
    ...(description === undefined ? {} : { description })
  })
}

export const IdParamsSchema = Type.Object({ id: UuidSchema }, { additionalProperties: false })

/** Opaque keyset cursor of a listing (from its `next_cursor`). */
export const CursorSchema = Type.String({ minLength: 1, maxLength: 64, description: 'Opaque: the next_cursor of the previous page' })

export const NextCursorSchema = Nullable(Type.String(), 'Pass as `cursor` for the next page; null on the last page')

/** The paging members of a keyset-paged list's querystring. */
export const CursorPaging = {
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(CursorSchema)
}

/** One page of a keyset-paged list, newest first. */
export function cursorPage<T extends TSchema> (item: T, title: string) {
  return Type.Object({
    data: Type.Array(item, { description: 'Newest first' }),
    next_cursor: NextCursorSchema
  }, { title })
}

/** A change-log id: a non-negative integer as text ("0" = before the first row). */
export const ChangeLogIdSchema = Type.String({ pattern: '^(0|[1-9][0-9]{0,17})$', description: 'A change-log id (integer as text)' })

/** Any JSON object (row images, events). */
export const JsonObjectSchema = Type.Unsafe<JsonObject>({ type: 'object', additionalProperties: true })

export const NoContentSchema = Type.Null({ description: 'No content' })
