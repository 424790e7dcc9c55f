// The typed shape of every table of the plugin, for Kysely.
import type { ColumnType, Generated } from 'kysely'
import type { ActionConfig, DeadLetterToWrite, JsonObject, OnDeadLetter, Ordering, RequestPayload, RetryConfig } from '../model.js'

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
type Json<T> = ColumnType<T, string | T, string | T>
/** int8 arrives from pg as a string; we keep it so (no precision loss) */
type BigId = ColumnType<string, string | number | bigint, string | number | bigint>

export interface ObserverTable {
  pk_observer: ColumnType<string, never, never>
  id: Generated<string>
  name: string
  description: string | null
  entity_type: string | null
  event_type: string | null
  condition_expression: string | null
  actions: Json<ActionConfig[]>
  enabled: Generated<boolean>
  priority: Generated<number>
  retry_config: Json<Partial<RetryConfig> | null>
  timeout_ms: Generated<number>
  ordering: ColumnType<Ordering, Ordering | undefined, Ordering>
  on_dead_letter: ColumnType<OnDeadLetter, OnDeadLetter | undefined, OnDeadLetter>
  disabled_reason: string | null
  tenant_id: string | null
  created_at: Generated<Date>
  updated_at: Generated<Date>
  created_by: string | null
  updated_by: string | null
  deleted_at: Date | null
  /** tb_observer_version's version when the row was last written (set by a trigger) */
  version: ColumnType<string, never, never>
}

export interface EntityChangeLogTable {
  pk_entity_change_log: Generated<string>
  id: Generated<string>
  object_type: string
  object_id: string
  modification_type: string
  object_data: Json<JsonObject | null> | null
  object_data_before: Json<JsonObject | null> | null
  updated_fields: string[] | null
  tenant_id: string | null
  user_id: string | null
  trace_id: string | null
  traceparent: string | null
  tracestate: string | null
  extra_metadata: Json<JsonObject | null> | null
  created_at: Generated<Date>
  txid: Generated<string>
}

export interface ObserverLogTable {
  pk_observer_log: ColumnType<string, never, never>
  observer_id: string
  event_id: string
  change_log_id: BigId | null
  entity_type: string
  entity_id: string
  event_type: string
  action_index: number
  action_type: string
  status: string
  attempt_number: number
  max_attempts: number
  next_retry_at: Timestamp | null
  started_at: Timestamp
  completed_at: Timestamp | null
  duration_ms: number | null
  error_code: string | null
  error_message: string | null
  response_status_code: number | null
  request_payload: Json<RequestPayload | null> | null
  response_payload: string | null
  trace_id: string | null
  created_at: Generated<Date>
}

export interface CheckpointTable {
  listener_id: string
  last_txid: Generated<string>
  last_change_log_id: Generated<string>
  event_count: Generated<string>
  error_count: Generated<string>
  last_error: string | null
  updated_at: Generated<Date>
}

export interface ChangeLogAheadTable {
  listener_id: string
  change_log_id: BigId
  txid: string
}

export interface RetryTable {
  pk_observer_retry: ColumnType<string, never, never>
  observer_id: string
  event_id: string
  change_log_id: BigId | null
  action_index: number
  event: Json<JsonObject>
  attempt_number: number
  first_failed_at: Timestamp
  due_at: Timestamp
  claimed_until: Timestamp | null
  /** the token of the claim that holds it (migration 013) */
  claimed_by: string | null
  last_error: string | null
  /** the destination it waits for (an open circuit closing wakes it) */
  endpoint: string | null
}

export interface DeadLetterTable extends Omit<DeadLetterToWrite, 'change_log_id' | 'event' | 'first_failed_at' | 'last_failed_at'> {
  pk_observer_dead_letter: ColumnType<string, never, never>
  id: Generated<string>
  change_log_id: BigId | null
  event: Json<JsonObject>
  first_failed_at: Timestamp
  last_failed_at: Timestamp
  retry_claimed_until: Timestamp | null
  /** the token of the operator retry that holds it (migration 013) */
  retry_claimed_by: string | null
}

export interface KeyTable {
  pk_observer_key: ColumnType<string, never, never>
  observer_id: string
  entity_type: string
  entity_id: string
  blocking_event_id: string | null
  blocking_change_log_id: BigId | null
  blocked_since: Generated<Date>
  /** what blocked it may have ended: the release round looks at it (migrations/019-releasable-keys.ts) */
  releasable: Generated<boolean>
}

export interface ParkedTable {
  pk_observer_parked: ColumnType<string, never, never>
  observer_id: string
  entity_type: string
  entity_id: string
  event_id: string
  change_log_id: BigId | null
  event: Json<JsonObject>
  parked_at: Generated<Date>
  /** the key is not released until this listener has read this change-log row (made before this event) */
  waits_for_listener: ColumnType<string | null, string | null | undefined, string | null>
  waits_for_txid: ColumnType<string | null, string | null | undefined, string | null>
  waits_for_change_log_id: ColumnType<string | null, string | number | bigint | null | undefined, string | number | bigint | null>
}

export interface EndpointTable {
  endpoint: string
  state: ColumnType<string, string | undefined, string>
  opened_at: Timestamp | null
  next_probe_at: Timestamp | null
  cool_down_ms: ColumnType<number, number | undefined, number>
  paused_until: Timestamp | null
  rate_tat: Timestamp | null
  rate_booked: Timestamp | null
  generation: ColumnType<string, string | number | undefined, string | number>
  updated_at: Generated<Date>
}

export interface ThroughputTable {
  instance_id: string
  /** Unix time in seconds */
  second: ColumnType<string | number, number, number>
  delivered: number
  failed: number
  lag_events: ColumnType<string | null, number | null | undefined, number | null>
  lag_seconds: number | null
}

export interface EndpointWindowTable {
  endpoint: string
  generation: ColumnType<string, string | number, string | number>
  bucket: ColumnType<string, string | number, string | number>
  attempts: number
  failures: number
}

export interface ObserverVersionTable {
  singleton: Generated<boolean>
  version: ColumnType<string, never, string>
  /** the version of the last hard delete or truncate: an instance older than it reloads everything */
  full_since: ColumnType<string, never, string>
}

export interface InstanceTable {
  instance_id: string
  host: string
  pid: number
  started_at: Generated<Date>
  last_seen: Generated<Date>
}

export interface ListenerTable {
  listener_id: string
  partitions: number
  /** a re-split to this count is under way */
  resplit_to: ColumnType<number | null, number | null | undefined, number | null>
  /** the re-split's barrier: the id of the transaction that requested it */
  barrier_txid: ColumnType<string | null, string | null | undefined, string | null>
  resplit_requested_at: ColumnType<Date | null, Date | null | undefined, Date | null>
}

export interface PartitionTable {
  listener_id: string
  partition: number
  holder: string | null
  term: ColumnType<string, string | number | undefined, string | number>
  session_pid: number | null
  taken_at: Date | null
}

export interface Database {
  tb_observer: ObserverTable
  tb_observer_instance: InstanceTable
  tb_observer_listener: ListenerTable
  tb_observer_partition: PartitionTable
  tb_entity_change_log: EntityChangeLogTable
  tb_observer_log: ObserverLogTable
  observer_checkpoints: CheckpointTable
  tb_change_log_ahead: ChangeLogAheadTable
  tb_observer_retry: RetryTable
  tb_observer_dead_letter: DeadLetterTable
  tb_observer_version: ObserverVersionTable
  tb_observer_key: KeyTable
  tb_observer_parked: ParkedTable
  tb_observer_endpoint: EndpointTable
  tb_observer_throughput: ThroughputTable
  tb_observer_endpoint_window: EndpointWindowTable
}
