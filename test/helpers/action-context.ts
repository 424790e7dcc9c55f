// Inputs of an action attempt: an event envelope, the services and an ActionContext.
import Fastify from 'fastify'
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import type { EventEnvelope } from '../../lib/model.js'
import type { ActionContext, ActionServices } from '../../lib/actions/types.js'
import { guardAgainstLeaks } from './leak-guard.js'

guardAgainstLeaks()

export function sampleEnvelope (overrides: Partial<EventEnvelope> = {}): EventEnvelope {
  return {
    event_id: '7d4c6f3e-7d6a-4a39-9a43-0f9b1c3f2a10',
    event_type: 'UPDATE',
    entity_type: 'order',
    entity_id: '42',
    tenant_id: 'acme',
    user_id: 'u-1',
    timestamp: '2024-05-01T12:00:00.000Z',
    data: { id: 42, status: 'shipped', total: 99.5, name: 'Ada', customer: { tier: 'gold' } },
    before: { id: 42, status: 'paid', total: 99.5, name: 'Ada', customer: { tier: 'gold' } },
    changes: { status: { old: 'paid', new: 'shipped' } },
    observer: { id: '2f1e0c4b-5a7d-4e8f-9b1a-3c2d4e5f6a7b', name: 'ship-notify' },
    ...overrides
  }
}

// For actions that never touch the database: a Kysely that compiles queries but has no connection.
function unconnectedDb (): Kysely<any> {
  return new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler()
    }
  })
}

export function testServices (overrides: Partial<ActionServices> = {}): ActionServices {
  return {
    allowPrivate: true,
    smtp: undefined,
    env: {},
    db: overrides.db ?? unconnectedDb(),
    log: overrides.log ?? Fastify({ logger: false }).log,
    ...overrides
  }
}

export function testContext (services: ActionServices, overrides: Partial<ActionContext> = {}): ActionContext {
  return {
    observer: { id: '2f1e0c4b-5a7d-4e8f-9b1a-3c2d4e5f6a7b', name: 'ship-notify' },
    actionIndex: 0,
    attempt: 1,
    idempotencyKey: 'evt-7d4c6f3e.obs-2f1e0c4b.0',
    timeoutMs: 5000,
    signal: new AbortController().signal,
    services,
    ...overrides
  }
}
