// Keeps this instance's view of the endpoints current: on an announced change (NOTIFY on
// `<schema>_endpoints`, heard by the instance holding the lease) and every second otherwise. It
// also adds this instance's window counts to the shared window, disables the endpoints whose
// circuit stayed open too long, and sets the state gauge.
import type { Gauge } from 'prom-client'
import type { Waker } from '../primitives/waker.js'
import type { EndpointGuard } from './guard.js'

const REFRESH_MS = 1000

/** The gauge's value per state: closed 0, open 1, half_open 2, disabled 3. */
export const STATE_VALUES = { closed: 0, open: 1, half_open: 2, disabled: 3 } as const

/**
 * One round: the shared state read again, this instance's window counts added to the shared
 * window (a circuit opens when the totals call for it), overdue endpoints disabled (true when one was).
 */
export async function refreshEndpoints (guard: EndpointGuard, gauge: Gauge<'endpoint'>): Promise<boolean> {
  await guard.refresh()
  await guard.circuits.flushWindows()
  const disabled = await guard.circuits.disableOverdue()
  gauge.reset()
  for (const endpoint of guard.endpoints()) gauge.set({ endpoint }, STATE_VALUES[guard.state(endpoint)?.state ?? 'closed'])
  return disabled.length > 0
}

export interface EndpointLoopHooks {
  /** an endpoint was disabled, and its observers with it */
  onDisabled: () => void
  onError: (err: unknown) => void
}

/** Until `signal` aborts. */
export async function endpointLoop (guard: EndpointGuard, gauge: Gauge<'endpoint'>, waker: Waker, hooks: EndpointLoopHooks, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      if (await refreshEndpoints(guard, gauge)) hooks.onDisabled()
    } catch (err) {
      hooks.onError(err)
    }
    await waker.sleep(REFRESH_MS, signal)
  }
}
