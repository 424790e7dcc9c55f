// A map keyed by three strings (event type, entity type, tenant) as nested maps, so that the
// entries a wildcard covers can be found without a scan of the rest. Pure.
import { ANY } from './rules.js'

export class ThreeKeys<V> {
  private readonly root = new Map<string, Map<string, Map<string, V>>>()
  private count = 0

  get size (): number { return this.count }

  get (a: string, b: string, c: string): V | undefined { return this.root.get(a)?.get(b)?.get(c) }

  set (a: string, b: string, c: string, value: V): void {
    let byB = this.root.get(a)
    if (byB === undefined) this.root.set(a, byB = new Map())
    let byC = byB.get(b)
    if (byC === undefined) byB.set(b, byC = new Map())
    if (!byC.has(c)) this.count++
    byC.set(c, value)
  }

  delete (a: string, b: string, c: string): void {
    const byB = this.root.get(a)
    const byC = byB?.get(b)
    if (byB === undefined || byC === undefined || !byC.delete(c)) return
    this.count--
    if (byC.size === 0) byB.delete(b)
    if (byB.size === 0) this.root.delete(a)
  }

  /** Deletes every entry whose keys a key here covers: ANY covers every value of its level. */
  deleteCovered (a: string, b: string, c: string): void {
    for (const [ka, byB] of a === ANY ? [...this.root] : [[a, this.root.get(a)] as const]) {
      if (byB === undefined) continue
      for (const [kb, byC] of b === ANY ? [...byB] : [[b, byB.get(b)] as const]) {
        if (byC === undefined) continue
        if (c === ANY) {
          this.count -= byC.size
          byB.delete(kb)
        } else if (byC.delete(c)) {
          this.count--
          if (byC.size === 0) byB.delete(kb)
        }
      }
      if (byB.size === 0) this.root.delete(ka)
    }
  }

  clear (): void {
    this.root.clear()
    this.count = 0
  }

  * entries (): IterableIterator<[string, string, string, V]> {
    for (const [a, byB] of this.root) for (const [b, byC] of byB) for (const [c, value] of byC) yield [a, b, c, value]
  }
}
