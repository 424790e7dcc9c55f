// A first-in-first-out queue that takes from its head in constant time: the executor's slots and
// each endpoint's lane queue their waiting work in one.
export class Fifo<T> {
  private items: T[] = []
  private head = 0

  get size (): number { return this.items.length - this.head }

  push (item: T): void { this.items.push(item) }

  /** The oldest item, taken out; undefined when empty. */
  shift (): T | undefined {
    if (this.head === this.items.length) return undefined
    const item = this.items[this.head]
    // no reference kept to what was taken
    this.items[this.head++] = undefined as T
    if (this.head === this.items.length) this.clear()
    return item
  }

  some (test: (item: T) => boolean): boolean {
    for (let i = this.head; i < this.items.length; i++) if (test(this.items[i])) return true
    return false
  }

  /** Takes out the items `test` picks, in order; the others stay, in theirs. */
  take (test: (item: T) => boolean): T[] {
    const kept: T[] = []
    const taken: T[] = []
    for (let i = this.head; i < this.items.length; i++) (test(this.items[i]) ? taken : kept).push(this.items[i])
    this.items = kept
    this.head = 0
    return taken
  }

  private clear (): void {
    this.items.length = 0
    this.head = 0
  }
}
