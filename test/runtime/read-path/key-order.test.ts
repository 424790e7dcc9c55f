// A batch's ordered groups start only once its change-order check is done (change-order.ts), so a
// group planned while its key was free may get its turn after an earlier event of the key failed
// and held it. It must park then, behind the failing event, not run before it.
import t from 'tap'
import type { Observer, ObserverEvent } from '../../../lib/model.js'
import type { AttemptResult } from '../../../lib/runtime/delivery/attempt.js'
import type { Delivery } from '../../../lib/runtime/delivery/delivery.js'
import { InReadOrder } from '../../../lib/runtime/read-path/change-order.js'
import { KeyOrder, type OrderedGroup } from '../../../lib/runtime/read-path/ordering.js'

const observer = { id: 'obs', on_dead_letter: 'skip' } as unknown as Observer
const retry = { max_attempts: 5 } as unknown as Delivery['retry']

const group = (seq: number): OrderedGroup => {
  const event = { entity_type: 'order', entity_id: 'hot', change_log_id: String(seq) } as unknown as ObserverEvent
  const delivery = { event, observer, retry, actionIndex: 0, attempt: 1, origin: 'change_log' } as unknown as Delivery
  // planned while the key was free
  return { key: 'obs/order/hot', observer, event, deliveries: [delivery], parked: false }
}

const answered = (ok: boolean) => async (deliveries: Delivery[]): Promise<AttemptResult[]> => deliveries.map((delivery) => ({
  delivery,
  outcome: ok ? { ok: true, statusCode: 200 } : { ok: false, kind: 'transient', code: 'HTTP_500', message: 'down', statusCode: 500 },
  startedAt: new Date(),
  durationMs: 0
}))

t.test('a group planned while its key was free parks if the key is held by the time its check lets it start', async (t) => {
  const order = new KeyOrder()
  const batches = new InReadOrder()
  const sent: string[] = []
  const execute = (ok: boolean) => async (deliveries: Delivery[]) => {
    sent.push(...deliveries.map((d) => d.event.change_log_id as string))
    return await answered(ok)(deliveries)
  }
  // batch A: event 1 of the key; batch B, read and planned meanwhile: event 2, its check still running
  const first = group(1)
  const second = group(2)
  let endCheck = (): void => {}
  const check = new Promise<void>((resolve) => { endCheck = resolve })
  const a = batches.start(Promise.resolve(), () => [order.run(first, execute(false))])
  const b = batches.start(check, () => [order.run(second, execute(true))])

  const [failed] = await a
  t.equal(failed.state, 'blocked', 'event 1 failed: a retry holds the key')
  t.equal(order.isHeld(first.key), true)
  endCheck()
  const [later] = await b
  t.equal(later.state, 'parked', 'event 2 is parked behind it')
  t.same(sent, ['1'], 'event 2 was not sent while event 1 is still owed')
})

t.test('a free key still runs its groups after their check', async (t) => {
  const order = new KeyOrder()
  const batches = new InReadOrder()
  const [one] = await batches.start(Promise.resolve(), () => [order.run(group(1), answered(true))])
  const [two] = await batches.start(Promise.resolve(), () => [order.run(group(2), answered(true))])
  t.same([one.state, two.state], ['resolved', 'resolved'])
  t.equal(order.isHeld(group(1).key), false)
})
