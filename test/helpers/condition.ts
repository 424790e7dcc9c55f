// Assertions on condition errors: what a call threw, in a form t.same can compare.
import { ConditionError, parseCondition } from '../../lib/condition/index.js'

/** `{ message, position }` when fn throws a ConditionError; a string describing anything else. */
export function conditionErrorOf (fn: () => unknown): { message: string, position: number } | string {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConditionError) return { message: err.message, position: err.position }
    return `threw ${String(err)}`
  }
  return 'did not throw'
}

/** Arguments for `t.same(...)`: what parsing `source` threw, and the ConditionError expected. */
export function parseCase (source: string, message: string, position: number): [unknown, unknown, string] {
  return [conditionErrorOf(() => parseCondition(source)), { message, position }, JSON.stringify(source).slice(0, 60)]
}
