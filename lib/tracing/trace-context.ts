// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
// headers, read from what the writer stored with its change and written on every HTTP attempt.
// Pure: no I/O, no OpenTelemetry.

/** The parts of a valid `traceparent` the runtime continues from. */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero */
  traceId: string
  /** 16 lowercase hex digits, not all zero: the writer's span */
  spanId: string
  /** the trace flags, two hex digits (`01`: the writer sampled it) */
  flags: string
}

const HEADER = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-[!-~]*)?$/
const TRACE_ID = /^[0-9a-f]{32}$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)
/** the longest header kept or sent: W3C's 32 tracestate members at the length receivers keep */
export const MAX_HEADER = 512
const TRACESTATE = /^[ -~]*$/

/**
 * The parts of `header`, or undefined when it is not a traceparent this runtime may continue:
 * version ff, an all-zero id, extra fields on version 00 or any other malformation.
 */
export function parseTraceparent (header: string | null | undefined): TraceParent | undefined {
  if (typeof header !== 'string' || header.length > MAX_HEADER) return undefined
  if (!HEADER.test(header)) return undefined
  const version = header.slice(0, 2)
  if (version === 'ff' || (version === '00' && header.length !== 55)) return undefined
  const traceId = header.slice(3, 35)
  const spanId = header.slice(36, 52)
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  return { traceId, spanId, flags: header.slice(53, 55) }
}

/** `00-<trace>-<span>-<flags>`: the version this runtime writes. */
export function formatTraceparent (traceId: string, spanId: string, flags: string): string {
  return `00-${traceId}-${spanId}-${flags}`
}

/** A trace id as W3C writes it (a plain `observers.trace_id` setting may be one, or any text). */
export function isTraceId (value: string | null | undefined): value is string {
  return typeof value === 'string' && TRACE_ID.test(value) && value !== ZERO_TRACE
}

/** `value` when it can be sent as a tracestate header (printable ASCII, bounded), else undefined. */
export function sendableTracestate (value: string | null | undefined): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_HEADER) return undefined
  return TRACESTATE.test(value) ? value : undefined
}

// Ids need to be unique, not secret: Math.random, as OpenTelemetry's own id generator does, turned
// into hex through a table (Buffer's and Number's hex conversions cost several times more).
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

function hex8 (): string {
  const n = (Math.random() * 0x1_0000_0000) >>> 0
  return HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255]
}

export function randomSpanId (): string {
  const id = hex8() + hex8()
  // all zero is invalid: vanishingly rare, and then one bit is enough
  return id === ZERO_SPAN ? '0000000000000001' : id
}

let prefixMs = -1
let prefix = ''

/**
 * A fresh trace id that starts with the time in milliseconds: trace ids are indexed in the
 * execution log, and ids that grow with time are added at the end of that index instead of
 * anywhere in it. 80 random bits follow.
 */
export function freshTraceId (now = Date.now()): string {
  if (now !== prefixMs) {
    prefixMs = now
    prefix = now.toString(16).padStart(12, '0').slice(-12)
  }
  return prefix + hex8() + hex8() + hex8().slice(0, 4)
}
