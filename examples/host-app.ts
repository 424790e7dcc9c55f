// The walk-through's steps inside a host application, as one script that runs them and exits:
//   DATABASE_URL=postgres://… npx tsx examples/host-app.ts
// (in this repository, tsconfig.json's `paths` maps 'fastify-observers' to index.ts)
import Fastify from 'fastify'
import pg from 'pg'
import observerPlugin, { type EventEnvelope } from 'fastify-observers'

const token = process.env.OBSERVERS_ADMIN_TOKEN ?? 'change-me-to-a-long-secret'
// the application's own pool: the plugin uses it and leaves it open (a connectionString would
// give the plugin a pool of its own, closed by app.close())
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
await pool.query('create table if not exists invoices (id serial primary key, customer text not null, amount numeric not null)')

let booked: (event: EventEnvelope) => void = () => {}
const firstBooking = new Promise<EventEnvelope>((resolve) => { booked = resolve })

// 1. register: migrations run here; the runtime starts once the app is ready
const app = Fastify({ logger: { level: 'warn' } })
await app.register(observerPlugin, {
  pool,
  auth: { tokens: [token] },
  actions: {
    // a custom action: resolving is success (the value is kept in the log); throwing is retried
    // as the observer's retry_config says; an error with `permanent: true` is dead-lettered at once
    book_invoice: async (event, config, ctx) => {
      console.log(`booking invoice ${event.entity_id} in the ${String(config.ledger)} ledger (webhook-id ${ctx.idempotencyKey}, attempt ${ctx.attempt})`)
      booked(event)
      return { booked: event.entity_id }
    }
  }
})

// 2. capture the table's changes (when it is attached already, the result says so: ok false)
await app.observers.captures.attach({ table: 'invoices', entity_type: 'invoice' })

// 3. an observer: the admin API, called in-process
const created = await app.inject({
  method: 'POST',
  url: '/observers',
  headers: { authorization: `Bearer ${token}` },
  payload: {
    name: 'book invoices',
    entity_type: 'invoice',
    event_type: 'INSERT',
    condition_expression: 'amount > 0',
    retry_config: { max_attempts: 5, backoff_strategy: 'exponential', initial_delay_ms: 1000, max_delay_ms: 60000 },
    actions: [{ type: 'book_invoice', ledger: 'sales' }]
  }
})
// on a second run: 409, the observer exists already
if (created.statusCode !== 201) console.log(`observer not created: ${created.json().message}`)

await app.listen({ port: 0 })

// 4. a row, 5. its action
await pool.query("insert into invoices (customer, amount) values ('ada', 250)")
const event = await firstBooking
console.log(`booked: ${JSON.stringify(event.data)}`)

// 6. close: stops reading, waits for the actions in flight, releases the lease; then our pool
await app.close()
await pool.end()
