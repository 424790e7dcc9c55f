// Compiled conditions shared by source text: many observers (a tenant's copies of one rule, every
// observer without a condition) hold one compiled function, released when the last one leaves.
import { compileCondition, type CompiledCondition } from '../../condition/index.js'

const NO_SOURCE = '\u0000none'

export class SharedConditions {
  private readonly bySource = new Map<string, { condition: CompiledCondition, users: number }>()

  constructor (private readonly compile: (source: string | null | undefined) => CompiledCondition = compileCondition) {}

  /** The compiled condition of `source`, counted as one more user; throws when it does not compile. */
  take (source: string | null | undefined): CompiledCondition {
    const key = source ?? NO_SOURCE
    const known = this.bySource.get(key)
    if (known !== undefined) {
      known.users++
      return known.condition
    }
    const condition = this.compile(source)
    this.bySource.set(key, { condition, users: 1 })
    return condition
  }

  /** One user of `source` is gone. */
  release (source: string | null | undefined): void {
    const key = source ?? NO_SOURCE
    const known = this.bySource.get(key)
    if (known === undefined) return
    if (--known.users === 0) this.bySource.delete(key)
  }

  /** How many distinct conditions are compiled. */
  get size (): number { return this.bySource.size }
}
