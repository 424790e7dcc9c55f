// `{{ path }}` templates over the event envelope. Templates run once per delivery, so each is parsed
// once into literal text and placeholders and the compiled form is cached by its source text.
import type { EventEnvelope } from '../model.js'

interface Placeholder {
  path: string[]
  /** JSON templates only: the placeholder sits inside a string literal. */
  inString: boolean
}
type Part = string | Placeholder

/** The envelope members a path may start with. */
export const TEMPLATE_ROOTS: readonly string[] = [
  'event_id', 'event_type', 'entity_type', 'entity_id', 'tenant_id', 'user_id', 'timestamp',
  'data', 'before', 'changes', 'observer'
]
const ROOTS = new Set(TEMPLATE_ROOTS)

// Sticky, so it matches exactly where a `{{` was seen. Segments allow what field names usually hold.
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*\}\}/y

// Observers are few and their templates fixed, so a small FIFO bound only matters against churn.
const CACHE_LIMIT = 1000
const textCache = new Map<string, Part[]>()
const jsonCache = new Map<string, Part[]>()

function compile (template: string, json: boolean): Part[] {
  const parts: Part[] = []
  let literal = ''
  let inString = false
  let i = 0
  while (i < template.length) {
    if (template.startsWith('{{', i)) {
      PLACEHOLDER.lastIndex = i
      const match = PLACEHOLDER.exec(template)
      if (match !== null) {
        if (literal !== '') parts.push(literal)
        literal = ''
        parts.push({ path: match[1].split('.'), inString })
        i = PLACEHOLDER.lastIndex
        continue
      }
    }
    const c = template[i]
    if (json && inString && c === '\\') {
      // An escaped character (\" in particular) never ends the string.
      literal += template.slice(i, i + 2)
      i += 2
      continue
    }
    if (json && c === '"') inString = !inString
    literal += c
    i++
  }
  if (literal !== '') parts.push(literal)
  return parts
}

function compiled (template: string, json: boolean): Part[] {
  const cache = json ? jsonCache : textCache
  let parts = cache.get(template)
  if (parts === undefined) {
    parts = compile(template, json)
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string)
    cache.set(template, parts)
  }
  return parts
}

/** The value at `path` in the envelope; undefined when any step is missing. Own properties only. */
export function lookupPath (envelope: EventEnvelope, path: readonly string[]): unknown {
  if (!ROOTS.has(path[0])) return undefined
  let value: unknown = envelope
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

function asText (value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Plain-text rendering: a missing value is empty, an object or array is its JSON. */
export function renderText (template: string, envelope: EventEnvelope): string {
  let out = ''
  for (const part of compiled(template, false)) {
    out += typeof part === 'string' ? part : asText(lookupPath(envelope, part.path))
  }
  return out
}

/** Rendering where each placeholder's value (missing: empty) is its text passed through `escape` (a NATS subject's tokens, say). */
export function renderEscaped (template: string, envelope: EventEnvelope, escape: (text: string) => string): string {
  let out = ''
  for (const part of compiled(template, false)) {
    out += typeof part === 'string' ? part : escape(asText(lookupPath(envelope, part.path)))
  }
  return out
}

/**
 * JSON rendering. A placeholder standing as a whole value becomes the value's JSON (missing: null);
 * inside a string literal it becomes the JSON-escaped text without quotes (missing: empty), so a value
 * can never close the string and add keys of its own.
 */
export function renderJsonTemplate (template: string, envelope: EventEnvelope): string {
  let out = ''
  for (const part of compiled(template, true)) {
    if (typeof part === 'string') {
      out += part
      continue
    }
    const value = lookupPath(envelope, part.path)
    if (part.inString) out += JSON.stringify(asText(value)).slice(1, -1)
    else out += value === undefined ? 'null' : JSON.stringify(value)
  }
  return out
}

/** Save-time check of any template: every `{{` starts a placeholder whose path has a known root. */
export function checkTemplate (template: string): string | null {
  let from = 0
  for (;;) {
    const at = template.indexOf('{{', from)
    if (at === -1) return null
    PLACEHOLDER.lastIndex = at
    const match = PLACEHOLDER.exec(template)
    if (match === null) return `malformed placeholder at position ${at}: expected {{ path }} with a dotted path`
    const root = match[1].split('.')[0]
    if (!ROOTS.has(root)) return `unknown placeholder '${match[0]}': a path starts with one of ${TEMPLATE_ROOTS.join(', ')}`
    from = PLACEHOLDER.lastIndex
  }
}

/** A stand-in event for save-time checks; `data.*` paths read as missing, the worst case for JSON. */
export const SAMPLE_ENVELOPE: EventEnvelope = Object.freeze({
  event_id: '00000000-0000-4000-8000-000000000000',
  event_type: 'UPDATE',
  entity_type: 'sample',
  entity_id: '1',
  tenant_id: null,
  user_id: null,
  timestamp: '2020-01-01T00:00:00.000Z',
  data: {},
  before: {},
  changes: {},
  observer: { id: '00000000-0000-4000-8000-000000000000', name: 'sample' }
})

/** Save-time check of a JSON body template: placeholders are valid and the result parses as JSON. */
export function checkJsonTemplate (template: string): string | null {
  const problem = checkTemplate(template)
  if (problem !== null) return problem
  try {
    JSON.parse(renderJsonTemplate(template, SAMPLE_ENVELOPE))
    return null
  } catch (err) {
    return `does not render to valid JSON: ${(err as Error).message}`
  }
}
