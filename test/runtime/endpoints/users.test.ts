import t from 'tap'
import { endpointUsers } from '../../../lib/runtime/endpoints/users.js'
import type { ActionConfig, Observer } from '../../../lib/model.js'

const observer = (id: string, actions: object[]): Observer => ({ id, actions } as unknown as Observer)
const originOf = (action: ActionConfig): string | null => typeof action.url === 'string' ? new URL(action.url).origin : null

t.test('each endpoint lists the observers sending to it, once each, with the strictest rate limit', async (t) => {
  const users = endpointUsers([
    observer('a', [{ type: 'webhook', url: 'https://x.example/1', rate_limit: { per_second: 50, burst: 10 } }, { type: 'webhook', url: 'https://x.example/2' }]),
    observer('b', [{ type: 'webhook', url: 'https://x.example/3', rate_limit: { per_second: 20 } }]),
    observer('c', [{ type: 'email', to: 'a@b.c' }, { type: 'webhook', url: 'https://y.example' }])
  ], originOf)
  t.same(users.endpoints(), ['https://x.example', 'https://y.example'])
  t.same(users.observersOf('https://x.example'), ['a', 'b'])
  t.same(users.observersOf('https://nowhere.example'), [])
  t.same(users.rateLimitOf('https://x.example'), { per_second: 20, burst: 1 }, 'fewest per second and smallest burst')
  t.equal(users.rateLimitOf('https://y.example'), undefined)
})
