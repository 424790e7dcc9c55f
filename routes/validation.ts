// Request validation of the admin routes only (the host application's validator is untouched).
// Fastify's default Ajv removes unknown properties silently; here an unknown body field is a 400.
// TypeBox checks every part; querystrings and params are defaulted and converted ("2" -> 2) first,
// bodies are taken exactly as sent. A part that passes its schema is then walked once for text
// PostgreSQL cannot store (request-values.ts): every route is covered, whatever its fields.
import type { FastifySchemaCompiler, FastifySchemaValidationError, FastifyServerOptions } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'
import { InvalidIdError, ValidationError } from '../lib/errors.js'
import { findUnstorable } from './request-values.js'

// A bare regular expression tells an operator little; schemas register what their patterns mean.
const PATTERN_MESSAGES = new Map<string, string>()

/** Registers the message for values failing `pattern`; returns `pattern` for use in a schema. */
export function explainPattern (pattern: string, message: string): string {
  PATTERN_MESSAGES.set(pattern, message)
  return pattern
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema)
  const convert = httpPart !== 'body'
  // most list requests carry no querystring at all: its defaulted form is worked out once
  let emptyDefaults: Record<string, unknown> | undefined
  return (input: unknown) => {
    let value = input
    if (convert) {
      if (emptyDefaults !== undefined && isEmpty(value)) return { value: { ...emptyDefaults } }
      value = Value.Convert(schema, Value.Default(schema, value))
      if (isEmpty(input) && isPlainObject(value) && validator.Check(value)) emptyDefaults = { ...value }
    }
    if (validator.Check(value)) {
      const unstorable = findUnstorable(value)
      if (unstorable === undefined) return { value }
      return { error: [{ keyword: 'storable', instancePath: unstorable.path, schemaPath: '', params: {}, message: unstorable.message }] }
    }
    return { error: [...validator.Errors(value)] as unknown as FastifySchemaValidationError[] }
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const isEmpty = (value: unknown): boolean => isPlainObject(value) && Object.keys(value).length === 0

interface Problem { path: string, message: string, keyword: string, format?: string }

interface RawError {
  keyword: string
  instancePath: string
  message: string
  params: Record<string, unknown>
}

function describe (error: RawError): Problem {
  const { params } = error
  const base = { path: error.instancePath, keyword: error.keyword }
  switch (error.keyword) {
    case 'required':
      return { ...base, path: `${error.instancePath}/${(params.requiredProperties as string[])[0]}`, message: 'is required' }
    case 'additionalProperties':
      return { ...base, path: `${error.instancePath}/${(params.additionalProperties as string[])[0]}`, message: 'is not an allowed property' }
    case 'format':
      return { ...base, format: String(params.format), message: params.format === 'uuid' ? 'must be a UUID' : `must be a valid ${String(params.format)}` }
    case 'pattern':
      return { ...base, message: PATTERN_MESSAGES.get(params.pattern as string) ?? error.message }
    default:
      return { ...base, message: error.message }
  }
}

/**
 * One message naming the field: the deepest problem wins (a union reports each branch and then a
 * summary; the branch says what to fix). Type mismatches at one path are merged: "must be string or null".
 */
export function describeValidation (errors: readonly RawError[]): Problem {
  let best: Problem | undefined
  const types = new Map<string, string[]>()
  for (const error of errors) {
    // "schema is false" repeats an additionalProperties error; "anyOf" only summarises its branches
    if (error.keyword === 'boolean' || error.keyword === 'anyOf') continue
    const problem = describe(error)
    if (error.keyword === 'type') {
      const list = types.get(problem.path) ?? []
      list.push(String(error.params.type))
      types.set(problem.path, list)
    }
    if (best === undefined || problem.path.split('/').length > best.path.split('/').length) best = problem
  }
  // every error is a summary (cannot happen with TypeBox, which reports the branches): use the first
  best ??= describe(errors[0])
  const typeList = types.get(best.path)
  if (best.keyword === 'type' && typeList !== undefined && typeList.length > 1) best.message = `must be ${typeList.join(' or ')}`
  return best
}

/** The admin routes' schemaErrorFormatter: `body/name must not have fewer than 1 characters`. */
export const schemaErrorFormatter: NonNullable<FastifyServerOptions['schemaErrorFormatter']> = (errors, dataVar) => {
  const problem = describeValidation(errors as unknown as RawError[])
  const message = `${dataVar}${problem.path} ${problem.message}`
  // a malformed id is its own, stable error, wherever it appears
  if (problem.format === 'uuid') return new InvalidIdError(message)
  return new ValidationError(message)
}
