// The Retry-After header of an HTTP answer (RFC 9110 section 10.2.3), as a delay.
const DELTA_SECONDS = /^-?\d+(?:\.\d+)?$/
// RFC 9110 section 5.6.7: IMF-fixdate, the obsolete RFC 850 form, and asctime (which has no zone).
const IMF_OR_RFC850 = /^[A-Za-z]{3,9}, \d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$/
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/**
 * A Retry-After header as ms from `now`: delta-seconds or an HTTP date. A past date or a
 * negative delta is 0; anything unparseable is undefined (ignored).
 */
export function parseRetryAfter (header: string | undefined, now: Date): number | undefined {
  if (header === undefined) return undefined
  const value = header.trim()
  if (DELTA_SECONDS.test(value)) return Math.max(0, Math.round(Number(value) * 1000))
  let at = Number.NaN
  if (IMF_OR_RFC850.test(value)) at = Date.parse(value)
  else if (ASCTIME.test(value)) at = Date.parse(`${value} GMT`)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now.getTime())
}
