// At most `limit` tasks at once across every caller (the read path, retries, dead-letter retries
// share one), started in the order they were submitted.

/** Starts work in a slot; `release` gives the slot back and must be called exactly once. */
export type SlotTask = (release: () => void) => void

export class Limiter {
  private active = 0
  private readonly waiting: SlotTask[] = []
  private next = 0

  constructor (private readonly limit: number) {}

  /**
   * Calls `task` now or when a slot frees. No promise per task: the hot path runs every attempt
   * through here. `task` must not throw.
   */
  acquire (task: SlotTask): void {
    if (this.active < this.limit) {
      this.active++
      task(this.release)
    } else this.waiting.push(task)
  }

  // the slot is handed to the oldest waiting task
  private readonly release = (): void => {
    if (this.next < this.waiting.length) {
      const task = this.waiting[this.next]
      this.waiting[this.next++] = undefined as unknown as SlotTask
      if (this.next === this.waiting.length) {
        this.waiting.length = 0
        this.next = 0
      }
      task(this.release)
    } else this.active--
  }
}
