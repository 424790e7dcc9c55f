// Wakes a sleeping loop early (a NOTIFY, new work, shutdown); otherwise it sleeps out its timeout.
export class Waker {
  private pending = false
  /** work due at this time (epoch ms) came while awake: the next sleep ends by then */
  private pendingAt = Number.POSITIVE_INFINITY
  private wakeUp: (() => void) | undefined
  /** when the current sleep ends (epoch ms) */
  private until = 0

  wake (): void {
    if (this.wakeUp !== undefined) this.wakeUp()
    else this.pending = true
  }

  /** Ends the current sleep, if any; a loop that is awake is left to decide whether to sleep. */
  wakeIfAsleep (): void {
    this.wakeUp?.()
  }

  /** Work falls due at `at` (epoch ms): wakes the loop only if it would sleep past it. */
  wakeBy (at: number): void {
    if (this.wakeUp !== undefined) {
      if (at < this.until) this.wakeUp()
    } else {
      this.pendingAt = Math.min(this.pendingAt, at)
    }
  }

  /** Sleeps up to `ms`; returns early on wake() (also one that came while awake) or abort. */
  async sleep (ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false
      this.pendingAt = Number.POSITIVE_INFINITY
      return
    }
    ms = Math.min(ms, this.pendingAt - Date.now())
    this.pendingAt = Number.POSITIVE_INFINITY
    if (ms <= 0) return
    this.until = Date.now() + ms
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.wakeUp = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      signal.addEventListener('abort', done, { once: true })
      this.wakeUp = done
    })
  }
}
