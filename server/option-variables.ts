// The plugin options an operator of `npm start` may set (SPEC 9.9): every option that is data, found
// by walking the options schema, so an option added to lib/options.ts gets its variable with no
// change here. Pure: no environment, no files.
import { OptionsSchema } from '../lib/options.js'

interface JsonSchema {
  type?: string
  const?: unknown
  anyOf?: JsonSchema[]
  properties?: Record<string, JsonSchema>
  patternProperties?: Record<string, JsonSchema>
  additionalProperties?: boolean | JsonSchema
  default?: unknown
  [keyword: string]: unknown
}

export interface OptionVariable {
  /** `OBSERVERS_RUNTIME_CONCURRENCY` */
  name: string
  /** `['runtime', 'concurrency']` */
  path: string[]
  /** the option's schema (a union's function branches left out) */
  schema: JsonSchema
  /** older names that set the same option (SPEC section 6) */
  aliases: string[]
}

/** Options the standalone server sets from variables of its own. */
export const SERVER_SET: Readonly<Record<string, string>> = {
  connectionString: 'DATABASE_URL (unset: the embedded PostgreSQL)',
  auth: 'OBSERVERS_ADMIN_TOKEN'
}

/** SPEC section 6's names, kept beside the derived ones; an alias of an option the schema lacks is ignored. */
const ALIASES: Readonly<Record<string, string>> = {
  OBSERVERS_ALLOW_PRIVATE_NETWORKS: 'network.allowPrivate',
  OBSERVERS_LISTENER_ID: 'runtime.listenerId',
  OBSERVERS_PARTITIONS: 'runtime.partitions',
  OBSERVERS_INSTANCE_ID: 'runtime.instanceId'
}

/** Variables of the server that are not plugin options. */
export const SERVER_VARIABLES = ['OBSERVERS_ADMIN_TOKEN', 'OBSERVERS_CONFIG', 'OBSERVERS_BENCH_ROOT']

/** `coolDownMs` -> `COOL_DOWN_MS` */
const upperSnake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()

export const variableName = (path: readonly string[]): string => ['OBSERVERS', ...path.map(upperSnake)].join('_')

// code, not data: a function, a live object (Type.Unknown: a pool, a Kysely), a record of functions
function isCode (schema: JsonSchema): boolean {
  if (schema.type === 'function') return true
  if (schema.type === undefined && schema.anyOf === undefined && schema.const === undefined) return true
  const values = schema.patternProperties === undefined ? [] : Object.values(schema.patternProperties)
  return values.length > 0 && values.every(isCode)
}

const isNested = (schema: JsonSchema): boolean =>
  schema.type === 'object' && schema.properties !== undefined && schema.additionalProperties === false

function walk (schema: JsonSchema, path: string[], found: OptionVariable[]): void {
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (path.length === 0 && key in SERVER_SET) continue
    if (isCode(property)) continue
    const here = [...path, key]
    if (isNested(property)) {
      walk(property, here, found)
      continue
    }
    const branches = (property.anyOf ?? [property]).filter((branch) => !isCode(branch))
    const nested = branches.find(isNested)
    // `circuitBreaker: false | {...}`: the option itself takes the scalar branches, its fields their own variables
    const own = nested === undefined ? property : { ...property, anyOf: branches.filter((branch) => branch !== nested) }
    found.push({ name: variableName(here), path: here, schema: own, aliases: [] })
    if (nested !== undefined) walk(nested, here, found)
  }
}

/** Every data option of `schema` (the plugin's by default) and its variable, in schema order. */
export function optionVariables (schema: JsonSchema = OptionsSchema as unknown as JsonSchema): OptionVariable[] {
  const found: OptionVariable[] = []
  walk(schema, [], found)
  for (const [alias, dotted] of Object.entries(ALIASES)) {
    found.find((variable) => variable.path.join('.') === dotted)?.aliases.push(alias)
  }
  return found
}

const branchesOf = (schema: JsonSchema): JsonSchema[] => schema.anyOf ?? [schema]

/** What text the variable takes, for the README and messages: `integer`, `false or JSON object`, ... */
export function describeKind (schema: JsonSchema): string {
  const kinds = branchesOf(schema).map((branch) => {
    if (branch.const !== undefined) return JSON.stringify(branch.const)
    if (branch.type === 'object' || branch.type === 'array') return `JSON ${branch.type}`
    return branch.type ?? 'any'
  })
  return [...new Set(kinds)].join(' or ')
}

/** JSON values are printed nowhere: they may hold secrets (an SMTP password). */
export const takesJson = (schema: JsonSchema): boolean =>
  branchesOf(schema).some((branch) => branch.type === 'object' || branch.type === 'array')

export class VariableTextError extends Error {}

/**
 * A variable's text as the option's value: `true`/`false` and numbers where the schema takes them,
 * JSON where it takes an object or array, text otherwise. Text the schema does not take is passed
 * on as text, so that the options' validation names what is wrong with it.
 */
export function parseVariable (text: string, schema: JsonSchema): unknown {
  const types = new Set(branchesOf(schema).map((branch) => branch.type))
  if (types.has('boolean') && (text === 'true' || text === 'false')) return text === 'true'
  if ((types.has('integer') || types.has('number')) && /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text)) return Number(text)
  if ((types.has('object') || types.has('array')) && /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text)
    } catch {
      throw new VariableTextError('is not valid JSON')
    }
  }
  return text
}
