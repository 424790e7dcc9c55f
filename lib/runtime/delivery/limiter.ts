// At most `limit` tasks at once across every caller (the read path, retries, dead-letter retries
// share one), started in the order they were submitted.
import { Fifo } from '../primitives/fifo.js'

/** Starts work in a slot; `release` gives the slot back and must be called exactly once. */
export type SlotTask = (release: () => void) => void

export class Limiter {
  private active = 0
  private readonly waiting = new Fifo<SlotTask>()

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
    const next = this.waiting.shift()
    if (next !== undefined) next(this.release)
    else this.active--
  }
}
