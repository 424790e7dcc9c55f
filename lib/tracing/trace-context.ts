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

// Ids need to be unique, not secret: Math.random, as OpenTelemetry's own id generator does. A
// header is written as bytes into one buffer and read out as one string: building it from small
// strings made ~25 of them per delivery, and the garbage showed in the runtime's CPU.
const DIGITS = Buffer.from('0123456789abcdef', 'latin1')
const header = Buffer.from('00-00000000000000000000000000000000-0000000000000000-00', 'latin1')

/** `chars` random hex digits into `header` from `at`; never all zero (then the last one is 1). */
function writeRandomHex (at: number, chars: number): void {
  let any = 0
  for (let i = 0; i < chars; i += 8) {
    let n = (Math.random() * 0x1_0000_0000) >>> 0
    any |= n
    for (let j = Math.min(8, chars - i) - 1; j >= 0; j--) {
      header[at + i + j] = DIGITS[n & 15]
      n >>>= 4
    }
  }
  if (any === 0) header[at + chars - 1] = DIGITS[1]
}

/** `00-<trace>-<new span id>-<flags>`: in the trace `traceId`, or, when null, in a fresh random trace. */
export function newTraceparent (traceId: string | null, flags: string): string {
  if (traceId !== null) header.write(traceId, 3, 'latin1')
  else writeRandomHex(3, 32)
  writeRandomHex(36, 16)
  header.write(flags, 53, 'latin1')
  return header.toString('latin1', 0, 55)
}

/** A new span id (16 hex digits, never all zero). */
export function randomSpanId (): string {
  writeRandomHex(36, 16)
  return header.toString('latin1', 36, 52)
}
