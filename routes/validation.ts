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
import { schemaProblem } from '../lib/schema-errors.js'
import { findUnstorable } from './request-values.js'

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

/** The admin routes' schemaErrorFormatter: `body/name must not have fewer than 1 characters`. */
export const schemaErrorFormatter: NonNullable<FastifyServerOptions['schemaErrorFormatter']> = (errors, dataVar) => {
  const problem = schemaProblem(errors)
  const message = `${dataVar}${problem.path} ${problem.message}`
  // a malformed id is its own, stable error, wherever it appears
  if (problem.format === 'uuid') return new InvalidIdError(message)
  return new ValidationError(message)
}
