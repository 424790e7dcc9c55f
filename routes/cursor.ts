// Opaque keyset cursors: base64url of the last row's internal id. Clients pass them back as they
// got them; anything else is a 400, never a SQL error.
import { InvalidCursorError } from '../lib/errors.js'

const MAX_BIGINT = 9223372036854775807n

export function encodeCursor (id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url')
}

export function decodeCursor (cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  // Node's base64url decoder skips foreign characters: only a cursor we could have made is accepted
  if (!/^[1-9][0-9]{0,18}$/.test(id) || encodeCursor(id) !== cursor || BigInt(id) > MAX_BIGINT) {
    throw new InvalidCursorError('pass back the next_cursor of the previous page unchanged')
  }
  return id
}
