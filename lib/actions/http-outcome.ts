// What an HTTP attempt's end means for its delivery: the answer's status, or the error that
// left it without one, as an ActionOutcome (ok, transient, permanent). Pure: no I/O.
import type { IncomingHttpHeaders } from 'node:http'
import { parseRetryAfter } from './retry-after.js'
import type { ActionOutcome } from './types.js'

function headerText (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** 2xx ok; 408, 429 and 5xx transient; 3xx and other 4xx permanent (redirects are never followed). */
export function classifyStatus (statusCode: number, headers: IncomingHttpHeaders, body: string): ActionOutcome {
  if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode, response: body }
  const code = `HTTP_${statusCode}`
  if (statusCode >= 300 && statusCode < 400) {
    const location = headerText(headers.location)
    const message = location === undefined
      ? `redirect (${statusCode}) without a Location header; redirects are not followed`
      : `redirect (${statusCode}) to ${location} not followed`
    return { ok: false, kind: 'permanent', code: 'REDIRECT', message, statusCode, response: body }
  }
  if (statusCode === 408 || statusCode === 429 || statusCode >= 500) {
    const retryAfterMs = parseRetryAfter(headerText(headers['retry-after']), new Date())
    return {
      ok: false,
      kind: 'transient',
      code,
      message: `endpoint answered ${statusCode}`,
      statusCode,
      response: body,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs })
    }
  }
  return { ok: false, kind: 'permanent', code, message: `endpoint answered ${statusCode}`, statusCode, response: body }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

/** Classifies a request that produced no response; `aborted` is the reason we aborted it for, if we did. */
export function classifyError (err: unknown, aborted?: Error): ActionOutcome {
  const e = err as { code?: unknown, message?: string, name?: string }
  const message = e?.message ?? String(err)
  if (e?.code === 'SSRF_BLOCKED') return { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message }
  if (aborted !== undefined) {
    return aborted.name === 'TimeoutError'
      ? { ok: false, kind: 'transient', code: 'TIMEOUT', message: aborted.message || 'request timed out', timedOut: true }
      : { ok: false, kind: 'transient', code: 'CANCELLED', message: 'request cancelled' }
  }
  if (typeof e?.code === 'string' && TIMEOUT_CODES.has(e.code)) {
    return { ok: false, kind: 'transient', code: 'TIMEOUT', message: `request timed out (${e.code})`, timedOut: true }
  }
  // undici refuses what it cannot send (a header value with a newline, say): retrying cannot help.
  if (e?.code === 'UND_ERR_INVALID_ARG') return { ok: false, kind: 'permanent', code: 'CONFIG', message }
  const code = typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error')
  return { ok: false, kind: 'transient', code: 'NETWORK', message: `${code}: ${message}` }
}
