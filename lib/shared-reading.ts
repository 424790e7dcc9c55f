// A value read at most once per period and shared by everyone who asks meanwhile: callers within
// `maxAgeMs` of the last read get its value, and concurrent callers share the one read in flight.
// A read that fails is not kept: each of its waiters gets the error, the next caller reads again.
export class SharedReading<T> {
  private last: { at: number, value: T } | undefined
  private inFlight: Promise<T> | undefined

  constructor (
    private readonly maxAgeMs: number,
    private readonly read: () => Promise<T>,
    private readonly clock: () => number = Date.now
  ) {}

  async get (): Promise<T> {
    if (this.last !== undefined && this.clock() - this.last.at < this.maxAgeMs) return this.last.value
    this.inFlight ??= this.readOnce()
    return await this.inFlight
  }

  private async readOnce (): Promise<T> {
    // the age runs from when the read began: what it saw is at least that old
    const at = this.clock()
    try {
      const value = await this.read()
      this.last = { at, value }
      return value
    } finally {
      this.inFlight = undefined
    }
  }
}
