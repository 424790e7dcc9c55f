// Run from a host project that installed only the packed plugin (.ci/packed-host.sh): registers it
// against DATABASE_URL, captures a table, and waits for one INSERT to reach a webhook on port 0.
import { once } from 'node:events'
import { createServer } from 'node:http'
import Fastify from 'fastify'
import observerPlugin from 'fastify-observers'
import pg from 'pg'

const suffix = `${process.pid}_${Date.now()}`
const schema = `host_check_${suffix}`
const table = `host_check_orders_${suffix}`
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 })

const received = []
const receiver = createServer((req, res) => {
  let body = ''
  req.on('data', (chunk) => { body += chunk })
  req.on('end', () => { received.push(JSON.parse(body)); res.end() })
})
receiver.listen(0, '127.0.0.1')
await once(receiver, 'listening')

const app = Fastify()
let ok = false
try {
  await pool.query(`create table public.${table} (id int primary key, total int)`)
  await app.register(observerPlugin, { connectionString: process.env.DATABASE_URL, schema, auth: false, network: { allowPrivate: true } })
  await app.ready()
  const attached = await app.observers.captures.attach({ table, entity_type: 'order' })
  if (!attached.ok) throw new Error(attached.message)
  const created = await app.inject({
    method: 'POST',
    url: '/observers',
    payload: { name: 'orders', entity_type: 'order', event_type: 'INSERT', actions: [{ type: 'webhook', url: `http://127.0.0.1:${receiver.address().port}/hook` }] }
  })
  if (created.statusCode !== 201) throw new Error(`POST /observers answered ${created.statusCode}: ${created.body}`)
  await pool.query(`insert into public.${table} values (7, 42)`)
  // bounded: the event is due within milliseconds; a minute means it never comes
  const until = Date.now() + 60_000
  while (received.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
  const event = received[0]
  if (event?.entity_id !== '7' || event?.data?.total !== 42) throw new Error(`no delivery of the INSERT (received: ${JSON.stringify(received)})`)
  ok = true
  console.log(`the packed plugin registered and delivered the INSERT on ${table} to a webhook (event ${event.event_id})`)
} finally {
  await app.close()
  await pool.query(`drop table if exists public.${table}; drop schema if exists ${schema} cascade`).catch(() => {})
  await pool.end()
  receiver.close()
}
process.exit(ok ? 0 : 1)
