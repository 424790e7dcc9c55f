// At most `limit` tasks at once across every caller (the read pipeline, retries, dead-letter
// retries share one), started in the order they were submitted.
export class Limiter {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor (private readonly limit: number) {}

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++
    else await new Promise<void>((resolve) => this.waiting.push(resolve)) // the slot is handed over
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next !== undefined) next()
      else this.active--
    }
  }
}
