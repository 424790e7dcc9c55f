// How an attempt is told to stop (its deadline passed, or the runtime is shutting down) without an
// AbortSignal per attempt, which is costly on the hot path (bench/README.md). The signal is made on
// first use, for actions that want it.

export class Cancellation {
  private controller: AbortController | undefined
  private listener: ((reason: Error) => void) | undefined
  /** why the attempt was cancelled; a `TimeoutError` DOMException when its deadline passed */
  reason: Error | undefined

  get cancelled (): boolean { return this.reason !== undefined }

  /** An AbortSignal that follows this cancellation, created on first read. */
  get signal (): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.reason !== undefined) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  /** The one cheap listener (the HTTP client's request); called at once when already cancelled. */
  listen (listener: ((reason: Error) => void) | undefined): void {
    if (listener !== undefined && this.reason !== undefined) listener(this.reason)
    else this.listener = listener
  }

  cancel (reason: Error): void {
    if (this.reason !== undefined) return
    this.reason = reason
    this.controller?.abort(reason)
    const listener = this.listener
    this.listener = undefined
    listener?.(reason)
  }
}

export const timeoutError = (timeoutMs: number): Error => new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')
