// How far the instance reads ahead of its actions, across every stream it reads (the whole stream,
// or each partition it holds): `channelCapacity` bounds the deliveries in flight and the batches
// read ahead are those that keep `concurrency` busy, for the instance and not per partition. An
// instance reading 8 partitions each with its own bound queued 8 times as many deliveries at its
// endpoints, and at a cold start spilled thousands of them to wait durably (bench/README.md).
import type { ResolvedOptions } from '../../options.js'

type Limits = Pick<ResolvedOptions['runtime'], 'channelCapacity' | 'batchSize' | 'concurrency'>

export class ReadAhead {
  /** deliveries planned and not yet ended, across the streams */
  private deliveries = 0
  /** batches read and not yet settled by their read loop, across the streams */
  private batches = 0
  readonly maxBatches: number
  private readonly waiters = new Set<() => void>()

  constructor (private readonly limits: Limits) {
    const { channelCapacity, batchSize, concurrency } = limits
    this.maxBatches = Math.max(2, Math.min(Math.ceil(channelCapacity / batchSize) + 1, Math.ceil(concurrency / batchSize) + 2))
  }

  get room (): number { return this.limits.channelCapacity - this.deliveries }

  /** Room for another batch; a stream with nothing in flight may always read one, so none waits on the others. */
  allows (streamIdle: boolean): boolean {
    return streamIdle || (this.room > 0 && this.batches < this.maxBatches)
  }

  /** Calls `wake` whenever room may have been freed (a stream's room waiter), until the returned function is called. */
  onRoom (wake: () => void): () => void {
    this.waiters.add(wake)
    return () => { this.waiters.delete(wake) }
  }

  /** A stream read a batch owing `deliveries`. */
  batchRead (deliveries: number): void {
    this.batches++
    this.deliveries += deliveries
  }

  /** Deliveries ended: enough room for a batch worth reading wakes the streams waiting for it. */
  deliveriesEnded (n: number): void {
    this.deliveries -= n
    const { batchSize, channelCapacity } = this.limits
    if (this.room >= Math.min(channelCapacity, Math.max(batchSize, channelCapacity / 2))) this.wakeAll()
  }

  /** A batch was settled by its read loop: another may be read. */
  batchSettled (): void {
    this.batches--
    this.wakeAll()
  }

  private wakeAll (): void {
    for (const wake of this.waiters) wake()
  }
}
