// Domain types shared by the runtime, the actions and the admin API.
// JSON shapes are snake_case, as stored and as served.

/** READ: a row as it stood when a backfill read it (SPEC 9.4) */
export type ModificationType = 'INSERT' | 'UPDATE' | 'DELETE' | 'CUSTOM' | 'READ'
export const MODIFICATION_TYPES: readonly ModificationType[] = ['INSERT', 'UPDATE', 'DELETE', 'CUSTOM', 'READ']

export type JsonObject = { [key: string]: unknown }

/** `{ field: { old, new } }` for every key whose value differs between the before and after images. */
export type Changes = Record<string, { old: unknown, new: unknown }>

/** A change-log row as the reader reads it. */
export interface ChangeLogRow {
  pk_entity_change_log: string // bigint, as text
  id: string
  object_type: string
  object_id: string
  modification_type: string
  object_data: JsonObject | null
  object_data_before: JsonObject | null
  updated_fields: string[] | null
  tenant_id: string | null
  user_id: string | null
  trace_id: string | null
  /** the writer's W3C trace context (migration 008), when it set one */
  traceparent?: string | null
  tracestate?: string | null
  extra_metadata: JsonObject | null
  created_at: Date
  txid: string // xid8, as text
}

/** The event an observer sees (SPEC section 8, without the `observer` member). */
export interface ObserverEvent {
  event_id: string
  event_type: ModificationType
  entity_type: string
  entity_id: string
  tenant_id: string | null
  user_id: string | null
  timestamp: string
  data: JsonObject | null
  before: JsonObject | null
  changes: Changes | null
  trace_id: string | null
  /** the W3C trace context deliveries continue: the writer's, or the one a first attempt started */
  traceparent?: string | null
  tracestate?: string | null
  /** change-log id (bigint as text); null for events that did not come from the change log (dry run). */
  change_log_id: string | null
}

/** The JSON body a webhook receives by default: the event without its internal ids, plus the observer it was matched by. */
export type EventEnvelope = Omit<ObserverEvent, 'trace_id' | 'traceparent' | 'tracestate' | 'change_log_id'> & { observer: { id: string, name: string } }

export type BackoffStrategy = 'exponential' | 'linear' | 'fixed'

export interface RetryConfig {
  max_attempts: number
  backoff_strategy: BackoffStrategy
  initial_delay_ms: number
  max_delay_ms: number
  jitter: boolean
}

export const DEFAULT_RETRY_CONFIG: Readonly<RetryConfig> = Object.freeze({
  max_attempts: 3,
  backoff_strategy: 'exponential',
  initial_delay_ms: 1000,
  max_delay_ms: 60000,
  jitter: true
})

/** One action of an observer: `type` names a built-in or custom action, the rest is its config. */
export interface ActionConfig {
  type: string
  [key: string]: unknown
}

/** An observer as stored (secrets included; redact before serving). */
export interface Observer {
  id: string
  name: string
  description: string | null
  entity_type: string | null
  event_type: ModificationType | null
  condition_expression: string | null
  actions: ActionConfig[]
  enabled: boolean
  priority: number
  retry_config: RetryConfig | null
  timeout_ms: number
  /** 'entity': the events of one entity reach this observer one at a time, in commit order */
  ordering: Ordering
  /** ordered observers: whether a dead letter lets the entity's later events go ('skip') or holds them ('block') */
  on_dead_letter: OnDeadLetter
  tenant_id: string | null
  created_at: Date
  updated_at: Date
  created_by: string | null
  updated_by: string | null
  deleted_at: Date | null
}

export const DEFAULT_TIMEOUT_MS = 30000

export type Ordering = 'none' | 'entity'

export type CircuitState = 'closed' | 'open' | 'half_open' | 'disabled'

/** One endpoint's (an action's destination origin) shared state, as every instance sees it. */
export interface EndpointState {
  endpoint: string
  state: CircuitState
  opened_at: Date | null
  /** when the next probe may go (open), or when the one in flight is given up on (half_open) */
  next_probe_at: Date | null
  cool_down_ms: number
  /** a 429 with Retry-After paused the whole endpoint until then */
  paused_until: Date | null
}
export type OnDeadLetter = 'skip' | 'block'

/** Statuses written to tb_observer_log. */
export type AttemptStatus = 'success' | 'failed' | 'timeout' | 'skipped' | 'cancelled' | 'dead_lettered'

// ---- what settled attempts owe the database (built by lib/runtime/delivery/settling.ts, written by lib/db/settlement.repo.ts) ----

/**
 * One attempt's row of tb_observer_log: times are epoch milliseconds and `completed_at` is
 * `started_ms + duration_ms`. Optional members left out are written as null.
 */
export interface AttemptLog {
  observer_id: string
  event_id: string
  change_log_id: string | null
  entity_type: string
  entity_id: string
  event_type: string
  action_index: number
  action_type: string
  status: AttemptStatus
  attempt_number: number
  max_attempts: number
  started_ms: number
  duration_ms: number
  next_retry_ms?: number
  error_code?: string | null
  error_message?: string | null
  response_status_code?: number | null
  response_payload?: string | null
  request_payload?: RequestPayload | null
  trace_id?: string | null
}

/** A failed HTTP (or NATS) attempt's request as the execution log keeps it (`request_payload`). */
export interface RequestPayload {
  method: string
  /** credentials and query values redacted; a Slack webhook's secret path too */
  url: string
  /** configured header values and the signature redacted */
  headers: Record<string, string>
  /** the start of the body: at most 4 KiB of UTF-8 */
  body: string
  /** the whole body's size in bytes */
  body_bytes: number
  /** message actions (nats): the subject published to */
  subject?: string
}

/** A failed attempt to run again at `due_at`. */
export interface RetryToSchedule {
  observer_id: string
  event_id: string
  change_log_id: string | null
  action_index: number
  event: ObserverEvent
  /** the attempt that will run */
  attempt_number: number
  first_failed_at: Date
  due_at: Date
  last_error: string | null
  /** the endpoint it waits for: an open circuit that closes makes it due at once */
  endpoint?: string | null
  /** an attempt handed over while running: claimed by this instance until then */
  claimed_until?: Date | null
  /** the claim's token (a handed-over attempt's: its handover commit ends the claim only while it holds) */
  claimed_by?: string
  /** not attempted because its endpoint's circuit was open or paused: due at once if it closed meanwhile */
  waitsForCircuit?: boolean
}

/**
 * An action given up on: one row per action, never per whole event, except for a change-log row
 * that cannot be read as an event at all (no observer, no action; `event` is the row itself).
 */
export interface DeadLetterToWrite {
  observer_id: string | null
  observer_name: string | null
  event_id: string
  change_log_id: string | null
  entity_type: string
  entity_id: string
  event_type: string
  tenant_id: string | null
  action_index: number | null
  action_type: string | null
  event: ObserverEvent | JsonObject
  error_code: string | null
  error_message: string | null
  attempts: number
  first_failed_at: Date
  last_failed_at: Date
}

/** A key of an ordered observer that is held: by the event that blocks it, or (null) by events parked behind it. */
export interface KeyHold {
  observer_id: string
  entity_type: string
  entity_id: string
  blocking_event_id: string | null
  blocking_change_log_id: string | null
}

/** An event an ordered observer will get once its key is released. */
export interface ParkedEvent {
  observer_id: string
  entity_type: string
  entity_id: string
  event_id: string
  change_log_id: string | null
  event: ObserverEvent
  /** a change of the key made before this event and not read yet: the key waits until this listener has read it */
  waits_for_listener?: string
  waits_for_txid?: string
  waits_for_change_log_id?: string
}

/** Everything a set of finished attempts owes the database, written in one transaction. */
export interface Settlement {
  logs: AttemptLog[]
  retries: RetryToSchedule[]
  deadLetters: DeadLetterToWrite[]
  /** ordered observers only: keys to hold, and events parked behind them */
  holds: KeyHold[]
  parked: ParkedEvent[]
}
