// At most `limit` tasks at once across every caller (the read path, retries, dead-letter retries
// share one), started in the order they were submitted.
export class Limiter {
  private active = 0
  private readonly waiting: Array<() => Promise<unknown>> = []
  private next = 0

  constructor (private readonly limit: number) {}

  /** Starts `task` now or when a slot frees; its slot is released however it ends. */
  submit (task: () => Promise<unknown>): void {
    if (this.active < this.limit) {
      this.active++
      this.start(task)
    } else this.waiting.push(task)
  }

  /** `task` in a slot, as a promise of its result. */
  async run<T> (task: () => Promise<T>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.submit(() => {
        const running = Promise.resolve().then(task)
        running.then(resolve, reject)
        return running
      })
    })
  }

  private start (task: () => Promise<unknown>): void {
    let running: Promise<unknown>
    try {
      running = task()
    } catch (err) {
      running = Promise.reject(err)
    }
    running.then(this.release, this.release)
  }

  // the slot is handed to the oldest waiting task
  private readonly release = (): void => {
    if (this.next < this.waiting.length) {
      const task = this.waiting[this.next]
      this.waiting[this.next++] = undefined as unknown as () => Promise<unknown>
      if (this.next === this.waiting.length) {
        this.waiting.length = 0
        this.next = 0
      }
      this.start(task)
    } else this.active--
  }
}
