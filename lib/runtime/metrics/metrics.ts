// Prometheus metrics of one runtime, in a registry of its own (two plugins in one process never clash).
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { LabelledHistogram } from './histogram.js'

export interface Metrics {
  registry: Registry
  eventsRead: Counter
  reads: Counter<'result'>
  actions: Counter<'action_type' | 'outcome'>
  /** by action type */
  actionDuration: LabelledHistogram
  /** by action type */
  deliveryLatency: LabelledHistogram
  batchDuration: Histogram
  lagEvents: Gauge
  lagSeconds: Gauge
  retriesPending: Gauge
  deadLetters: Gauge
  blockedKeys: Gauge
  parkedEvents: Gauge
  /** by endpoint: 0 closed, 1 open, 2 half_open, 3 disabled */
  endpointState: Gauge<'endpoint'>
  /** loads of the observers, by kind: full, or incremental (what changed since the version held) */
  reloads: Counter<'kind'>
  /** tb_observer rows those loads read */
  reloadRows: Counter<'kind'>
  /** rows retention removed (or emptied: request payloads), by table */
  retentionRemoved: Counter<'table'>
  /** by partition (runtime.partitions > 1): 1 where this instance holds it, else 0 */
  partitionHeld: Gauge<'partition'>
  /** by partition this instance holds: rows after its checkpoint (bounded count) */
  partitionLag: Gauge<'partition'>
}

/**
 * `collect` refreshes the gauges that read the database (lag, retries, dead letters) at scrape
 * time, `collectPartitions` the partitions' (prom-client reads the metrics concurrently: each
 * gauge waits for its own).
 */
export function createMetrics (collect: () => Promise<void> = async () => {}, collectPartitions: () => Promise<void> = async () => {}): Metrics {
  const registry = new Registry()
  const registers = [registry]
  // one read for both partition gauges of a scrape
  let partitionsRead: Promise<void> | undefined
  const partitions = async (): Promise<void> => { await (partitionsRead ??= collectPartitions().finally(() => { partitionsRead = undefined })) }
  return {
    registry,
    eventsRead: new Counter({ name: 'observers_events_read_total', help: 'Change-log events read', registers }),
    reads: new Counter({
      name: 'observers_change_log_reads_total',
      help: 'Reads of the change log: rows (found some), held (none yet: committed rows wait for an open transaction to end), empty',
      labelNames: ['result'],
      registers
    }),
    actions: new Counter({ name: 'observers_actions_total', help: 'Action attempts by type and outcome', labelNames: ['action_type', 'outcome'], registers }),
    actionDuration: new LabelledHistogram('observers_action_duration_seconds', 'Duration of one action attempt', 'action_type',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registry),
    deliveryLatency: new LabelledHistogram('observers_delivery_latency_seconds',
      'From the change (its created_at) to the end of the attempt that delivered it, retries included', 'action_type',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600], registry),
    batchDuration: new Histogram({
      name: 'observers_batch_duration_seconds',
      help: 'Read, deliver and commit of one batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    lagEvents: new Gauge({ name: 'observers_lag_events', help: 'Change-log rows not yet read by this listener', registers, collect }),
    lagSeconds: new Gauge({ name: 'observers_lag_seconds', help: 'Age of the oldest change-log row not yet read', registers }),
    retriesPending: new Gauge({ name: 'observers_retries_pending', help: 'Retries scheduled and not yet run', registers }),
    deadLetters: new Gauge({ name: 'observers_dead_letters', help: 'Dead letters waiting for an operator', registers }),
    blockedKeys: new Gauge({ name: 'observers_blocked_keys', help: 'Entities held by ordered observers until a failed delivery resolves', registers }),
    parkedEvents: new Gauge({ name: 'observers_parked_events', help: 'Events of held entities waiting to be released in order', registers }),
    endpointState: new Gauge({ name: 'observers_endpoint_state', help: 'Circuit of each endpoint: 0 closed, 1 open, 2 half_open, 3 disabled', labelNames: ['endpoint'], registers }),
    reloads: new Counter({ name: 'observers_reloads_total', help: 'Loads of the observers: full, or incremental (the rows written since the version held)', labelNames: ['kind'], registers }),
    reloadRows: new Counter({ name: 'observers_reload_rows_total', help: 'Observer rows read by those loads', labelNames: ['kind'], registers }),
    retentionRemoved: new Counter({
      name: 'observers_retention_removed_total',
      help: 'Rows retention removed by table (tb_observer_log.request_payload: payloads emptied)',
      labelNames: ['table'],
      registers
    }),
    partitionHeld: new Gauge({ name: 'observers_partition_held', help: 'Partitions of the stream: 1 where this instance reads it', labelNames: ['partition'], registers, collect: partitions }),
    partitionLag: new Gauge({ name: 'observers_partition_lag_events', help: 'Rows of each partition this instance reads that are after its checkpoint (counted up to 10 000)', labelNames: ['partition'], registers, collect: partitions })
  }
}
