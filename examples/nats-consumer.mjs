// Reads the ORDERS stream with a durable consumer: each event once, with the headers the observer
// set, acknowledged after it is handled. Stopped (Ctrl-C) and started again, it goes on where it
// stopped; a message not acknowledged comes again.
//   NATS_URL=nats://127.0.0.1:4222 node examples/nats-consumer.mjs
// Outside this repository: npm install @nats-io/transport-node @nats-io/jetstream
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' })
const jsm = await jetstreamManager(nc)
await jsm.consumers.add('ORDERS', { durable_name: 'order-reader', ack_policy: 'explicit' })
const messages = await (await jetstream(nc).consumers.get('ORDERS', 'order-reader')).consume()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => { messages.stop() })

for await (const message of messages) {
  const event = message.json()
  // Nats-Msg-Id is the delivery's idempotency key: the same on every retry and replay
  console.log(JSON.stringify({
    subject: message.subject,
    msg_id: message.headers?.get('Nats-Msg-Id'),
    traceparent: message.headers?.get('traceparent'),
    event_type: event.event_type,
    entity_id: event.entity_id,
    data: event.data
  }))
  message.ack()
}
await nc.close()
