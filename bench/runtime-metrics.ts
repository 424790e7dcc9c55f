// The runtime's own Prometheus histograms, read after a scenario: how long a batch (read, deliver,
// commit) and an action attempt took on average, from inside the runtime.
import type { FastifyInstance } from 'fastify'
import { round } from './stats.js'

export interface RuntimeTimings {
  batches: number
  batch_ms_mean: number
  action_attempts: number
  action_ms_mean: number
}

interface MetricJson { name: string, values: Array<{ value: number, metricName?: string }> }

function sumAndCount (metrics: MetricJson[], name: string): { sum: number, count: number } {
  const values = metrics.find((m) => m.name === name)?.values ?? []
  let sum = 0
  let count = 0
  for (const v of values) {
    if (v.metricName === `${name}_sum`) sum += v.value
    if (v.metricName === `${name}_count`) count += v.value
  }
  return { sum, count }
}

export async function runtimeTimings (app: FastifyInstance): Promise<RuntimeTimings> {
  const metrics = await app.observers.metrics.getMetricsAsJSON() as unknown as MetricJson[]
  const batch = sumAndCount(metrics, 'observers_batch_duration_seconds')
  const action = sumAndCount(metrics, 'observers_action_duration_seconds')
  return {
    batches: batch.count,
    batch_ms_mean: batch.count === 0 ? 0 : round(1000 * batch.sum / batch.count, 3),
    action_attempts: action.count,
    action_ms_mean: action.count === 0 ? 0 : round(1000 * action.sum / action.count, 3)
  }
}
