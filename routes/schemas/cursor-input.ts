// Change-log ids sent in JSON bodies: a decimal string (ids are bigints, beyond a JSON number's
// exact range) or, for convenience, a JSON integer. Handlers read them through cursorText().
import { Type } from 'typebox'

const ID_PATTERN = '^(0|[1-9][0-9]{0,17})$'

/** A change-log id in a body: "123" or 123 (0 / "0" = the start of the log where a start makes sense). */
export function ChangeLogIdInput (description: string) {
  return Type.Union([
    Type.String({ pattern: ID_PATTERN }),
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  ], { description: `${description} (a decimal string, or an integer)` })
}

/** The id as the decimal text the database takes. */
export function cursorText (value: string | number): string {
  return typeof value === 'number' ? String(value) : value
}
