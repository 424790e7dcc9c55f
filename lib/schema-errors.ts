// The one way TypeBox's error list becomes the problem an operator needs: which field, what is
// wrong. Used by the options, the actions' configs, retry_config, stored events and the admin API.

// A bare regular expression tells an operator little; schemas register what their patterns mean.
const PATTERN_MESSAGES = new Map<string, string>()

/** Registers the message for values failing `pattern`; returns `pattern` for use in a schema. */
export function explainPattern (pattern: string, message: string): string {
  PATTERN_MESSAGES.set(pattern, message)
  return pattern
}

/** The shape of a TypeBox (and Ajv) validation error that matters here. */
export interface SchemaError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown> | object
}

export interface SchemaProblem {
  /** JSON pointer of the offending value ('' for the value itself), e.g. `/actions/0/url` */
  path: string
  keyword: string
  message: string
  format?: string
}

function describe (error: SchemaError): SchemaProblem {
  const params = error.params as Record<string, unknown>
  const base = { path: error.instancePath, keyword: error.keyword }
  switch (error.keyword) {
    case 'required':
      return { ...base, path: `${error.instancePath}/${(params.requiredProperties as string[])[0]}`, message: 'is required' }
    case 'additionalProperties':
      return { ...base, path: `${error.instancePath}/${(params.additionalProperties as string[])[0]}`, message: 'is not an allowed property' }
    case 'format': {
      const format = String(params.format)
      const message = format === 'uuid' ? 'must be a UUID' : format === 'email' ? 'must be an email address' : `must be a valid ${format}`
      return { ...base, format, message }
    }
    case 'enum':
      return { ...base, message: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` }
    case 'pattern':
      return { ...base, message: PATTERN_MESSAGES.get(params.pattern as string) ?? error.message ?? 'does not match its pattern' }
    case 'const':
      return { ...base, message: `must be ${String(params.allowedValue)}` }
    default:
      return { ...base, message: error.message ?? 'is not valid' }
  }
}

/**
 * The most specific problem: the deepest path wins (a union reports each branch and then a
 * summary; the branch says what to fix). Alternatives at one path are merged: "must be string or
 * null", "must be one of POST, PUT, PATCH".
 */
export function schemaProblem (errors: Iterable<SchemaError>): SchemaProblem {
  let best: SchemaProblem | undefined
  let first: SchemaError | undefined
  const alternatives = new Map<string, { keyword: string, values: string[] }>()
  for (const error of errors) {
    first ??= error
    // "schema is false" repeats an additionalProperties error; "anyOf" only summarises its branches
    if (error.keyword === 'boolean' || error.keyword === 'anyOf') continue
    const problem = describe(error)
    if (error.keyword === 'type' || error.keyword === 'const') {
      const params = error.params as Record<string, unknown>
      const value = String(error.keyword === 'type' ? params.type : params.allowedValue)
      const seen = alternatives.get(problem.path)
      if (seen === undefined) alternatives.set(problem.path, { keyword: error.keyword, values: [value] })
      else if (seen.keyword === error.keyword) seen.values.push(value)
    }
    if (best === undefined || problem.path.split('/').length > best.path.split('/').length) best = problem
  }
  if (best === undefined) return first === undefined ? { path: '', keyword: 'none', message: 'is not valid' } : describe(first)
  const merged = alternatives.get(best.path)
  if (merged !== undefined && merged.keyword === best.keyword && merged.values.length > 1) {
    best.message = best.keyword === 'type' ? `must be ${merged.values.join(' or ')}` : `must be one of ${merged.values.join(', ')}`
  }
  return best
}

/** `a.b.0` for the JSON pointer `/a/b/0` (option names, retry_config fields). */
export const dotted = (path: string): string => path.replace(/^\//, '').replaceAll('/', '.')
