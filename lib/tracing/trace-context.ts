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

const HEADER = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[!-~]*)?$/
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
  const m = HEADER.exec(header)
  if (m === null) return undefined
  const [, version, traceId, spanId, flags, rest] = m
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  return { traceId, spanId, flags }
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

// Ids need to be unique, not secret: Math.random, as OpenTelemetry's own id generator does.
const buffer = Buffer.alloc(16)

function randomHex (bytes: number): string {
  for (let i = 0; i < bytes; i += 4) buffer.writeUInt32BE((Math.random() * 0x1_0000_0000) >>> 0, i)
  // all zero is invalid: vanishingly rare, and then one bit is enough
  if (buffer.readUInt32BE(0) === 0) buffer[0] = 1
  return buffer.toString('hex', 0, bytes)
}

export const randomSpanId = (): string => randomHex(8)

/**
 * A fresh trace id that starts with the time in milliseconds: trace ids are indexed in the
 * execution log, and ids that grow with time are added at the end of that index instead of
 * anywhere in it (bench/README.md). 80 random bits follow.
 */
export function freshTraceId (now = Date.now()): string {
  return now.toString(16).padStart(12, '0').slice(-12) + randomHex(12).slice(0, 20)
}
