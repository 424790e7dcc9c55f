// endpointUsers (../endpoints/users.ts) kept up to date observer by observer: which loaded
// observers send to each endpoint, and the strictest rate limit among them. A change to one
// observer touches only its own endpoints.
import type { ActionConfig, Observer } from '../../model.js'
import type { EndpointUsers, RateLimit } from '../endpoints/users.js'

interface Users {
  ids: Set<string>
  /** only the observers that set a rate limit for this endpoint */
  limits: Map<string, RateLimit>
  strictest: RateLimit | undefined
  list: string[] | undefined
}

export class EndpointUsersIndex implements EndpointUsers {
  private readonly byEndpoint = new Map<string, Users>()

  constructor (private readonly endpointOf: (action: ActionConfig) => string | null) {}

  endpoints (): readonly string[] { return [...this.byEndpoint.keys()] }

  observersOf (endpoint: string): readonly string[] {
    const users = this.byEndpoint.get(endpoint)
    if (users === undefined) return []
    users.list ??= [...users.ids]
    return users.list
  }

  rateLimitOf (endpoint: string): RateLimit | undefined { return this.byEndpoint.get(endpoint)?.strictest }

  add (observer: Observer): void {
    for (const action of observer.actions) {
      const endpoint = this.endpointOf(action)
      if (endpoint === null) continue
      let users = this.byEndpoint.get(endpoint)
      if (users === undefined) this.byEndpoint.set(endpoint, users = { ids: new Set(), limits: new Map(), strictest: undefined, list: undefined })
      users.ids.add(observer.id)
      users.list = undefined
      const limit = (action as { rate_limit?: { per_second: number, burst?: number } }).rate_limit
      if (limit === undefined) continue
      const known = users.limits.get(observer.id)
      const burst = limit.burst ?? 1
      users.limits.set(observer.id, known === undefined
        ? { per_second: limit.per_second, burst }
        : { per_second: Math.min(known.per_second, limit.per_second), burst: Math.min(known.burst, burst) })
      users.strictest = strictest(users.limits)
    }
  }

  remove (observer: Observer): void {
    for (const action of observer.actions) {
      const endpoint = this.endpointOf(action)
      const users = endpoint === null ? undefined : this.byEndpoint.get(endpoint)
      if (endpoint === null || users === undefined || !users.ids.delete(observer.id)) continue
      users.list = undefined
      if (users.limits.delete(observer.id)) users.strictest = strictest(users.limits)
      if (users.ids.size === 0) this.byEndpoint.delete(endpoint)
    }
  }
}

/** Fewest per second, smallest burst. */
function strictest (limits: ReadonlyMap<string, RateLimit>): RateLimit | undefined {
  let out: RateLimit | undefined
  for (const limit of limits.values()) {
    out = out === undefined ? { ...limit } : { per_second: Math.min(out.per_second, limit.per_second), burst: Math.min(out.burst, limit.burst) }
  }
  return out
}
