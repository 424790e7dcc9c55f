import t from 'tap'
import { Histogram, Registry } from 'prom-client'
import { LabelledHistogram } from '../../../lib/runtime/metrics/histogram.js'

t.test('the per-delivery histograms are scraped exactly as prom-client\'s own histogram would be', async (t) => {
  const buckets = [0.001, 0.01, 0.1, 1]
  const ours = new Registry()
  const theirs = new Registry()
  const fast = new LabelledHistogram('latency_seconds', 'Latency', 'action_type', buckets, ours)
  const reference = new Histogram({ name: 'latency_seconds', help: 'Latency', labelNames: ['action_type'], buckets, registers: [theirs] })
  const observations: Array<[string, number]> = [['webhook', 0.0005], ['webhook', 0.001], ['webhook', 0.05], ['email', 3], ['webhook', 2], ['email', 0.01]]
  for (const [type, value] of observations) {
    fast.observe(type, value)
    reference.observe({ action_type: type }, value)
  }
  t.equal(await ours.metrics(), await theirs.metrics(), 'the same text exposition')
  const samples = async (registry: Registry) => (await registry.getMetricsAsJSON()).map((m) =>
    ({ name: m.name, type: m.type, values: m.values.map((v) => ({ value: v.value, labels: v.labels, metricName: (v as { metricName?: string }).metricName })) }))
  t.same(await samples(ours), await samples(theirs), 'and the same samples as JSON')
  ours.resetMetrics()
  theirs.resetMetrics()
  t.equal(await ours.metrics(), await theirs.metrics(), 'reset empties both')
})
