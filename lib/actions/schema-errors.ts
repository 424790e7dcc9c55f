// Turns TypeBox's error list into the one message an operator needs: which field, what is wrong.
import type { TLocalizedValidationError } from 'typebox/error'

// A bare regular expression tells an operator little; schemas register what their patterns mean.
const PATTERN_MESSAGES = new Map<string, string>()

/** Registers the message for values failing `pattern`; returns `pattern` for use in the schema. */
export function explainPattern (pattern: string, message: string): string {
  PATTERN_MESSAGES.set(pattern, message)
  return pattern
}

interface Problem {
  path: string
  message: string
}

function describe (error: TLocalizedValidationError): Problem {
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'required':
      return { path: `${error.instancePath}/${(params.requiredProperties as string[])[0]}`, message: 'is required' }
    case 'additionalProperties':
      return { path: `${error.instancePath}/${(params.additionalProperties as string[])[0]}`, message: 'is not a known field' }
    case 'format':
      if (params.format === 'email') return { path: error.instancePath, message: 'must be an email address' }
      return { path: error.instancePath, message: `must be a valid ${String(params.format)}` }
    case 'enum':
      return { path: error.instancePath, message: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` }
    case 'pattern':
      return { path: error.instancePath, message: PATTERN_MESSAGES.get(params.pattern as string) ?? error.message }
    case 'const':
      return { path: error.instancePath, message: `must be ${JSON.stringify(params.allowedValue)}` }
    default:
      return { path: error.instancePath, message: error.message }
  }
}

/**
 * `/field: problem` (or `: problem` for the value itself) for the most specific error. A union
 * reports its branches and then a summary; the deepest path is the one that says what to fix.
 */
export function firstSchemaError (errors: TLocalizedValidationError[]): string {
  let best: Problem | undefined
  for (const error of errors) {
    // "schema is false" repeats an additionalProperties error; "anyOf" only summarises its branches.
    if (error.keyword === 'boolean' || error.keyword === 'anyOf') continue
    const problem = describe(error)
    if (best === undefined || problem.path.split('/').length > best.path.split('/').length) best = problem
  }
  if (best === undefined) return ': is not valid'
  return `${best.path}: ${best.message}`
}
