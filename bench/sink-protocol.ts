// What the bench and its webhook sink (bench/sink.ts) say to each other over IPC.

export interface SinkConfig {
  /** fraction of attempts answered 500, decided by a hash of (delivery, attempt): 0..1 */
  failureFraction: number
  /** attempts numbered above this always get 200, so every delivery succeeds within failUpTo + 1 attempts */
  failUpTo: number
  /** keep each event's first 2xx time, for the latency report */
  keepTimes: boolean
  /** every attempt for this entity id is answered 500 (an endpoint failing for one entity) */
  failEntity?: string
  /** every request is answered this status, whatever it carries (a dead endpoint: 503) */
  status?: number
  /** every answer waits this long after its request arrived (a slow endpoint) */
  delayMs?: number
  /** keep every request's arrival time (for a small endpoint's requests: see requestTimes) */
  keepRequestTimes?: boolean
}

export interface SinkStats {
  requests: number
  answered500: number
  /** requests answered the configured `status` */
  answeredStatus: number
  /** deliveries (event id + observer id) answered 2xx at least once */
  delivered: number
  /** deliveries answered 2xx more than once, and the extra 2xx answers */
  duplicates: number
  duplicateRequests: number
  /** bodies that were not an event envelope */
  unparsable: number
  /** how many deliveries needed 1, 2, 3 … attempts to succeed */
  attemptsToSucceed: Record<string, number>
  /** sink clock (ms): first request, last 2xx */
  firstAt: number | null
  lastOkAt: number | null
  /** sum over delivered deliveries of the first 32 bits of md5(event_id), to compare with the change log's */
  checksum: number
}

export interface SinkReady { url: string }

/** sink clock ms of every request's arrival, with keepRequestTimes */
export type SinkRequestTimes = number[]

/** [event id, sink clock ms of its first 2xx] */
export type SinkTimes = Array<[string, number]>
