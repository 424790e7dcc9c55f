// Makes the JetStream stream the README's `nats` observer publishes to: every subject under
// observers.order, kept on disk, where a message whose Nats-Msg-Id was seen in the last 10 minutes
// (a retry, a replay) is stored once. Running it again leaves the stream as it is.
//   NATS_URL=nats://127.0.0.1:4222 node examples/nats-stream.mjs
// Outside this repository: npm install @nats-io/transport-node @nats-io/jetstream
import { connect, nanos } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' })
const jsm = await jetstreamManager(nc)
await jsm.streams.add({ name: 'ORDERS', subjects: ['observers.order.>'], storage: 'file', duplicate_window: nanos(10 * 60_000) })
console.log('stream ORDERS captures observers.order.>')
await nc.close()
