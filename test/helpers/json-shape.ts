// Comparing a sample the README shows with what a command printed: ids and times differ from run
// to run, the fields must not.

const kind = (value: unknown): string => value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value

/**
 * null when `actual` has the shape of `sample`: every key the sample shows is there, with a value
 * of the same JSON type; an array has at least the elements shown, each of the shape shown.
 * Otherwise where it differs. Keys the sample leaves out are allowed (it may abbreviate).
 */
export function shapeProblem (sample: unknown, actual: unknown, path = '$'): string | null {
  if (kind(sample) !== kind(actual)) return `${path}: ${kind(actual)} where the sample has ${kind(sample)}`
  if (Array.isArray(sample)) {
    const values = actual as unknown[]
    if (values.length < sample.length) return `${path}: ${values.length} elements where the sample shows ${sample.length}`
    for (const [i, element] of sample.entries()) {
      const problem = shapeProblem(element, values[i], `${path}[${i}]`)
      if (problem !== null) return problem
    }
  } else if (kind(sample) === 'object') {
    const object = actual as Record<string, unknown>
    for (const [key, value] of Object.entries(sample as Record<string, unknown>)) {
      if (!(key in object)) return `${path}.${key}: missing`
      const problem = shapeProblem(value, object[key], `${path}.${key}`)
      if (problem !== null) return problem
    }
  }
  return null
}

/** The JSON documents in a program's output, where each starts on a line `{` and ends on a line `}`. */
export function documentsIn (output: string): unknown[] {
  const documents: unknown[] = []
  let open: string[] | null = null
  for (const line of output.split('\n')) {
    if (open === null && line === '{') open = []
    if (open === null) continue
    open.push(line)
    if (line === '}') {
      documents.push(JSON.parse(open.join('\n')))
      open = null
    }
  }
  return documents
}
