// Wakes a sleeping loop early (a NOTIFY, new work, shutdown); otherwise it sleeps out its timeout.
export class Waker {
  private pending = false
  private wakeUp: (() => void) | undefined

  wake (): void {
    if (this.wakeUp !== undefined) this.wakeUp()
    else this.pending = true
  }

  /** Sleeps up to `ms`; returns early on wake() (also one that came while awake) or abort. */
  async sleep (ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false
      return
    }
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
