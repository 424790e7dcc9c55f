// Keeps this instance's view of the endpoints current: on an announced change (NOTIFY on
// `<schema>_endpoints`, heard by the instance holding the lease) and every second otherwise. It
// also disables the endpoints whose circuit stayed open too long, and sets the state gauge.
import { recordError, type RuntimeContext } from '../context.js'
import type { EndpointGuard } from './guard.js'
import type { Waker } from '../primitives/waker.js'

const REFRESH_MS = 1000

/** The gauge's value per state: closed 0, open 1, half_open 2, disabled 3. */
export const STATE_VALUES = { closed: 0, open: 1, half_open: 2, disabled: 3 } as const

/** One round: the shared state read again, overdue endpoints disabled (true when one was). */
export async function refreshEndpoints (ctx: RuntimeContext, guard: EndpointGuard): Promise<boolean> {
  await guard.refresh()
  const disabled = await guard.disableOverdue()
  const gauge = ctx.metrics.endpointState
  gauge.reset()
  for (const endpoint of guard.endpoints()) gauge.set({ endpoint }, STATE_VALUES[guard.state(endpoint)?.state ?? 'closed'])
  return disabled.length > 0
}

/** Until `signal` aborts; a disabled endpoint disabled observers, so they are reloaded. */
export async function endpointLoop (ctx: RuntimeContext, guard: EndpointGuard, waker: Waker, requestReload: () => void, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      if (await refreshEndpoints(ctx, guard)) requestReload()
    } catch (err) {
      recordError(ctx, err, {}, 'reading the endpoints\' state failed; retrying')
    }
    await waker.sleep(REFRESH_MS, signal)
  }
}
