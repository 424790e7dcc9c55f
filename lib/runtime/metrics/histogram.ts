// A Prometheus histogram with one label, for the two observed on every delivery (attempt duration,
// delivery latency). prom-client's Histogram validates and hashes its labels object on every
// observe (~0.4 µs, about a percent of the runtime's CPU each, bench/README.md); this one looks the
// label's value up in a Map. It registers in prom-client's registry and is exposed the same way.
import type { Metric, Registry } from 'prom-client'

interface Series {
  /** observations per bucket (not cumulative); the last one is +Inf */
  counts: number[]
  sum: number
  count: number
}

interface Value { value: number, labels: Record<string, string | number>, metricName: string }

export class LabelledHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series = new Map<string, Series>()

  constructor (
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly buckets: readonly number[],
    registry: Registry
  ) {
    registry.registerMetric(this as unknown as Metric)
  }

  observe (label: string, value: number): void {
    let series = this.series.get(label)
    if (series === undefined) {
      series = { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 }
      this.series.set(label, series)
    }
    const { buckets } = this
    let i = 0
    while (i < buckets.length && value > buckets[i]) i++
    series.counts[i]++
    series.sum += value
    series.count++
  }

  /** The samples in prom-client's shape: cumulative buckets, then the sum and the count, per label value. */
  async get (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: Value[] }> {
    const values: Value[] = []
    for (const [label, { counts, sum, count }] of this.series) {
      let cumulative = 0
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += counts[i]
        values.push({ value: cumulative, labels: { le: i < this.buckets.length ? this.buckets[i] : '+Inf', [this.labelName]: label }, metricName: `${this.name}_bucket` })
      }
      values.push({ value: sum, labels: { [this.labelName]: label }, metricName: `${this.name}_sum` })
      values.push({ value: count, labels: { [this.labelName]: label }, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    this.series.clear()
  }
}
