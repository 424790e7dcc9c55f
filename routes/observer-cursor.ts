// The opaque cursor of GET /observers: the key of the last row served (priority, creation time to
// the microsecond, pk) and the number of the page it leads to, as base64url JSON. Anything but a
// cursor we made is a 400, never a SQL error.
import type { ObserverListKey } from '../lib/db/observer-list.repo.js'
import { InvalidCursorError } from '../lib/errors.js'

export interface ObserverCursor { after: ObserverListKey, page: number }

const CREATED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
const PK = /^[1-9][0-9]{0,18}$/

export function encodeObserverCursor ({ after, page }: ObserverCursor): string {
  return Buffer.from(JSON.stringify([after.priority, after.createdAt, after.pk, page]), 'utf8').toString('base64url')
}

export function decodeObserverCursor (cursor: string): ObserverCursor {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {}
  if (Array.isArray(parsed) && parsed.length === 4) {
    const [priority, createdAt, pk, page] = parsed as unknown[]
    if (Number.isInteger(priority) && typeof createdAt === 'string' && CREATED.test(createdAt) && !Number.isNaN(Date.parse(createdAt)) &&
      typeof pk === 'string' && PK.test(pk) && BigInt(pk) <= 9223372036854775807n && Number.isInteger(page) && (page as number) >= 2) {
      const decoded = { after: { priority: priority as number, createdAt, pk }, page: page as number }
      // Node's base64url decoder skips foreign characters: only a cursor we could have made is accepted
      if (encodeObserverCursor(decoded) === cursor) return decoded
    }
  }
  throw new InvalidCursorError('pass back the next_cursor of the previous page unchanged')
}
