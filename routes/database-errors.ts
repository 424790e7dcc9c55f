// A database error that a value of the request explains is the client's mistake: a 400 naming the
// field. That is SQLSTATE class 22 (a value the column's type refuses) and 54000 for a value too long
// for an index. The schemas and request-values.ts refuse at the edge what they can know in advance;
// this catches what only the database knows (a host's own index, a narrower column, an enum).
// An error that no value of the request explains stays a server fault.
import type { FastifyRequest } from 'fastify'
import { ValidationError } from '../lib/errors.js'
import { valuesOf } from './request-values.js'

interface RequestValue { path: string, value: string | number }

/** The request's values, the body's first: a value too long for a column or an index is one being written. */
function requestValues (request: FastifyRequest): RequestValue[] {
  const parts: Array<[string, unknown]> = [['body', request.body], ['params', request.params], ['querystring', request.query]]
  return parts.flatMap(([part, root]) => valuesOf(root).map(({ path, value }) => ({ path: `${part}${path}`, value })))
}

const strings = (values: RequestValue[]): Array<{ path: string, value: string }> =>
  values.filter((v): v is { path: string, value: string } => typeof v.value === 'string')

/** The 400 for a database error caused by a request value, or undefined when none explains it. */
export function clientFault (error: unknown, request: FastifyRequest): Error | undefined {
  const { code, message } = error as { code?: unknown, message?: unknown }
  if (typeof code !== 'string' || typeof message !== 'string') return undefined
  if (code === '54000' && message.startsWith('index row')) {
    // "index row size 2720 exceeds btree version 4 maximum 2704 ...", "index row requires 9000 bytes, maximum size is 8191"
    const maximum = Number(/maximum (?:size is )?(\d+)/.exec(message)?.[1] ?? 0)
    let longest: { path: string, bytes: number } | undefined
    for (const { path, value } of strings(requestValues(request))) {
      const bytes = Buffer.byteLength(value)
      if (bytes > (longest?.bytes ?? 0)) longest = { path, bytes }
    }
    // a value far smaller than the limit cannot be what overflowed it
    if (longest === undefined || longest.bytes < maximum / 2) return undefined
    return new ValidationError(`${longest.path} is too long to be indexed (${longest.bytes} bytes; PostgreSQL indexes at most ${maximum})`)
  }
  if (!code.startsWith('22')) return undefined
  const values = requestValues(request)
  if (code === '22001') {
    // "value too long for type character varying(50)": PostgreSQL does not say which column
    const limit = Number(/\((\d+)\)$/.exec(message)?.[1])
    const found = strings(values).find(({ value }) => [...value].length > limit)
    return found === undefined ? undefined : new ValidationError(`${found.path} is longer than its column allows (${limit} characters)`)
  }
  // the other data exceptions quote the value they refuse: `invalid input value for enum kind: "x"`
  const found = values.find(({ value }) => value !== '' && message.includes(`"${value}"`))
  return found === undefined ? undefined : new ValidationError(`${found.path} is not a value the database accepts: ${message}`)
}
