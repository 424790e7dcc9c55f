// A ring of per-second counters over a fixed window: adding is O(1) and allocates only the first
// time a slot is used, so counting deliveries costs the hot path nothing it would notice.

export interface SecondSample {
  /** Unix time in seconds */
  second: number
  delivered: number
  failed: number
  /** a lag measured in that second, null when none was */
  lagEvents: number | null
  lagSeconds: number | null
}

export class SecondRing {
  private readonly slots: Array<SecondSample | undefined>

  constructor (readonly size: number) {
    this.slots = new Array<SecondSample | undefined>(size)
  }

  /** The slot of `second`, emptied first when it still holds a second one window older. */
  private slot (second: number): SecondSample {
    const index = ((second % this.size) + this.size) % this.size
    let sample = this.slots[index]
    if (sample === undefined) {
      sample = { second, delivered: 0, failed: 0, lagEvents: null, lagSeconds: null }
      this.slots[index] = sample
    } else if (sample.second !== second) {
      sample.second = second
      sample.delivered = 0
      sample.failed = 0
      sample.lagEvents = null
      sample.lagSeconds = null
    }
    return sample
  }

  add (second: number, delivered: number, failed: number): void {
    if (delivered === 0 && failed === 0) return
    const sample = this.slot(second)
    sample.delivered += delivered
    sample.failed += failed
  }

  setLag (second: number, lagEvents: number, lagSeconds: number): void {
    const sample = this.slot(second)
    sample.lagEvents = lagEvents
    sample.lagSeconds = lagSeconds
  }

  /** Copies of the samples from `from` to `to` (inclusive, Unix seconds) that hold something, oldest first. */
  between (from: number, to: number): SecondSample[] {
    const found: SecondSample[] = []
    for (const sample of this.slots) {
      if (sample !== undefined && sample.second >= from && sample.second <= to && sample.second > to - this.size) found.push({ ...sample })
    }
    return found.sort((a, b) => a.second - b.second)
  }
}
