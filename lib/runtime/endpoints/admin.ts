// What operators see of the endpoints and the one thing they do by hand (SPEC 9.3): the list
// behind GET /observers/endpoints, and the reset that closes a circuit.
import type { Kysely } from 'kysely'
import type { Gauge } from 'prom-client'
import { resetEndpoint, waitingByEndpoint } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'
import type { CircuitState } from '../../model.js'
import { refreshEndpoints } from './worker.js'
import type { RateLimit } from './users.js'
import type { EndpointGuard } from './guard.js'

export interface EndpointView {
  endpoint: string
  state: CircuitState
  /** attempts and transient failures in the endpoint's window, over every instance */
  attempts_window: number
  failures_window: number
  opened_at: string | null
  next_probe_at: string | null
  paused_until: string | null
  /** attempts in flight from this instance */
  in_flight: number
  /** deliveries waiting in the retry schedule for it (every instance) */
  waiting: number
  rate_limit: RateLimit | null
  observers: readonly string[]
}

const iso = (date: Date | null): string | null => date === null ? null : date.toISOString()

/** Every endpoint with a state or a loaded observer sending to it, current as of now. */
export async function listEndpoints (db: Kysely<Database>, guard: EndpointGuard): Promise<EndpointView[]> {
  await guard.refresh()
  const windows = await guard.circuits.windowTotals()
  const waiting = await waitingByEndpoint(db)
  const names = [...new Set([...guard.endpoints(), ...waiting.keys()])].sort()
  return names.map((endpoint) => {
    const state = guard.state(endpoint)
    const window = windows.get(endpoint) ?? { attempts: 0, failures: 0 }
    return {
      endpoint,
      state: state?.state ?? 'closed',
      attempts_window: window.attempts,
      failures_window: window.failures,
      opened_at: iso(state?.opened_at ?? null),
      next_probe_at: iso(state?.next_probe_at ?? null),
      paused_until: iso(state?.paused_until ?? null),
      in_flight: guard.inFlight(endpoint),
      waiting: waiting.get(endpoint) ?? 0,
      rate_limit: guard.rateLimitOf(endpoint) ?? null,
      observers: guard.observersOf(endpoint)
    }
  })
}

/**
 * Closes the endpoint's circuit by hand (what waited for it is due at once); with
 * `enableObservers`, the observers its disabling disabled are enabled again.
 */
export async function resetEndpointByHand (db: Kysely<Database>, guard: EndpointGuard, gauge: Gauge<'endpoint'>, endpoint: string, enableObservers: boolean): Promise<{ closed: boolean }> {
  const closed = await resetEndpoint(db, endpoint, guard.observersOf(endpoint), enableObservers)
  guard.circuits.forget(endpoint)
  await refreshEndpoints(guard, gauge)
  return { closed }
}
