// Reads one counter of a runtime's Prometheus registry, by its labels.
import type { Registry } from 'prom-client'

export async function counterValue (registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  const wanted = Object.entries(labels)
  return values.filter((v) => wanted.every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0)
}
