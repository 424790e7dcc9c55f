// Requests built from the OpenAPI document alone: for every operation, every string it accepts (path
// and query parameters, body fields at any depth, property names of free-form objects), a request
// that is valid but for one chosen text at that place. A new route or field is covered by regenerating
// openapi.yaml, with no test to edit.
import fc from 'fast-check'

type Schema = Record<string, any>

export interface Operation { method: string, path: string, parameters: Schema[], body?: Schema }

/** One place a string goes: a parameter, or a body field reached through `steps`. */
export interface Target {
  operation: Operation
  in: 'path' | 'query' | 'body'
  /** parameter name, or the JSON Pointer of the body field (of the object, for a property name) */
  field: string
  /** the value's schema (of the object's values, for a property name) */
  schema: Schema
  /** true: the text goes into a property name of the object at `field` */
  key: boolean
  steps: Array<{ container: Schema, key: string | number }>
}

const ID = '00000000-0000-4000-8000-000000000000'
const EXTRA = 'extra'

export function operationsOf (doc: Schema): Operation[] {
  const out: Operation[] = []
  for (const [path, item] of Object.entries<Schema>(doc.paths)) {
    for (const [method, op] of Object.entries<Schema>(item)) {
      out.push({ method: method.toUpperCase(), path, parameters: op.parameters ?? [], body: op.requestBody?.content?.['application/json']?.schema })
    }
  }
  return out
}

const branches = (schema: Schema): Schema[] => schema.anyOf?.flatMap(branches) ?? [schema]
const acceptsString = (schema: Schema): boolean => schema.type === 'string' || (schema.type === undefined && schema.properties === undefined)
/** The schema of property names a free-form object accepts beyond its declared ones. */
const extraOf = (schema: Schema): Schema | undefined =>
  schema.additionalProperties === true ? {} : typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined

/** A value the schema accepts (required properties only, the first non-null branch). */
export function sample (schema: Schema): unknown {
  const branch = branches(schema).find((b) => b.type !== 'null') ?? schema
  if (branch.default !== undefined) return branch.default
  if (branch.enum !== undefined) return branch.enum[0]
  switch (branch.type) {
    case 'integer': case 'number': return branch.minimum ?? 1
    case 'boolean': return true
    case 'array': return Array.from({ length: branch.minItems ?? 0 }, () => sample(branch.items))
    case 'object': return Object.fromEntries((branch.required ?? []).map((k: string) => [k, sample(branch.properties[k])]))
    default: return sampleString(branch)
  }
}

function sampleString (schema: Schema): string {
  if (schema.format === 'uuid') return ID
  if (schema.format === 'date-time') return '2024-01-02T03:04:05Z'
  const fits = (s: string): boolean => s.length >= (schema.minLength ?? 1) && s.length <= (schema.maxLength ?? Infinity)
  if (schema.pattern !== undefined) {
    const arbitrary = fc.stringMatching(new RegExp(schema.pattern)).filter(fits)
    return fc.sample(arbitrary, { numRuns: 1, seed: 16 })[0]
  }
  return 'a'.repeat(Math.max(schema.minLength ?? 1, 1))
}

function * bodyTargets (operation: Operation, schema: Schema, steps: Target['steps']): Generator<Target> {
  const field = steps.map((s) => `/${s.key}`).join('')
  for (const branch of branches(schema)) {
    if (acceptsString(branch)) yield { operation, in: 'body', field, schema: branch, key: false, steps }
    if (branch.type === 'array') yield * bodyTargets(operation, branch.items, [...steps, { container: branch, key: 0 }])
    if (branch.type !== 'object') continue
    for (const [name, inner] of Object.entries<Schema>(branch.properties ?? {})) {
      yield * bodyTargets(operation, inner, [...steps, { container: branch, key: name }])
    }
    const extra = extraOf(branch)
    if (extra === undefined) continue
    yield * bodyTargets(operation, extra, [...steps, { container: branch, key: EXTRA }])
    yield { operation, in: 'body', field, schema: extra, key: true, steps: [...steps, { container: branch, key: EXTRA }] }
  }
}

/** Every place of every operation that takes a string. */
export function * targetsOf (operation: Operation): Generator<Target> {
  for (const p of operation.parameters) {
    if (branches(p.schema).some(acceptsString)) yield { operation, in: p.in, field: p.name, schema: p.schema, key: false, steps: [] }
  }
  if (operation.body !== undefined) yield * bodyTargets(operation, operation.body, [])
}

/** The body, valid but for `text` at the target's place (in the value, or in a property name). */
function bodyWith (target: Target, text: string): unknown {
  const place = (i: number): unknown => {
    if (i === target.steps.length) return target.key ? sample(target.schema) : `${sampleString(target.schema)}${text}`
    const { container, key } = target.steps[i]
    const value = sample(container) as Record<string | number, unknown>
    const name = target.key && i === target.steps.length - 1 ? `x${text}y` : key
    value[name] = place(i + 1)
    return value
  }
  return place(0)
}

/** The inject options of the target's request with `text` at its place (`encoded` in a URL). */
export function requestWith (target: Target, text: string, encoded: string): { method: string, url: string, payload?: string, headers: Record<string, string> } {
  const { operation } = target
  let url = operation.path
  const query: string[] = []
  for (const p of operation.parameters) {
    const chosen = target.in === p.in && target.field === p.name
    if (!chosen && p.in !== 'path' && !(p.required === true && p.schema.default === undefined)) continue
    const value = encodeURIComponent(String(sample(p.schema))) + (chosen ? encoded : '')
    if (p.in === 'path') url = url.replace(`{${p.name}}`, value)
    else query.push(`${p.name}=${value}`)
  }
  if (query.length > 0) url += `?${query.join('&')}`
  if (operation.body === undefined) return { method: operation.method, url, headers: {} }
  const body = target.in === 'body' ? bodyWith(target, text) : sample(operation.body)
  return { method: operation.method, url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
}

/** How the error message names the target: `querystring/entity_type`, `body/actions/0/extra`. */
export function fieldName (target: Target): string {
  if (target.in === 'body') return `body${target.field}`
  return `${target.in === 'query' ? 'querystring' : 'params'}/${target.field}`
}

/** True when the value's schema refuses the text by its own rule (pattern, format, enum) before the text check. */
export const constrained = (target: Target): boolean => !target.key &&
  branches(target.schema).filter(acceptsString).every((b) => b.pattern !== undefined || b.format !== undefined || b.enum !== undefined)
