// Which loaded observers send to each endpoint, and the endpoint's strictest rate limit: what the
// endpoint guard needs to know of the observers, rebuilt after every reload. Pure.
import type { ActionConfig, Observer } from '../../model.js'

export interface RateLimit { per_second: number, burst: number }

/** What the guard needs to know of the observers: which send to an endpoint, and its strictest rate limit. */
export interface EndpointUsers {
  endpoints: () => readonly string[]
  observersOf: (endpoint: string) => readonly string[]
  rateLimitOf: (endpoint: string) => RateLimit | undefined
}

/** The endpoints of the loaded observers' actions: who sends there, and the strictest rate limit (fewest per second, smallest burst). */
export function endpointUsers (observers: readonly Observer[], endpointOf: (action: ActionConfig) => string | null): EndpointUsers {
  const users = new Map<string, Set<string>>()
  const limits = new Map<string, RateLimit>()
  for (const observer of observers) {
    for (const action of observer.actions) {
      const endpoint = endpointOf(action)
      if (endpoint === null) continue
      let ids = users.get(endpoint)
      if (ids === undefined) users.set(endpoint, ids = new Set())
      ids.add(observer.id)
      const limit = (action as { rate_limit?: { per_second: number, burst?: number } }).rate_limit
      if (limit === undefined) continue
      const known = limits.get(endpoint)
      const burst = limit.burst ?? 1
      limits.set(endpoint, known === undefined
        ? { per_second: limit.per_second, burst }
        : { per_second: Math.min(known.per_second, limit.per_second), burst: Math.min(known.burst, burst) })
    }
  }
  const lists = new Map([...users].map(([endpoint, ids]) => [endpoint, [...ids]]))
  return {
    endpoints: () => [...lists.keys()],
    observersOf: (endpoint) => lists.get(endpoint) ?? [],
    rateLimitOf: (endpoint) => limits.get(endpoint)
  }
}
