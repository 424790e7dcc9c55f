// A webhook receiver for the README's walk-through: checks each delivery's Standard Webhooks
// signature and handles each event once, however often it is delivered.
//   node examples/receiver.mjs                      listens on http://127.0.0.1:4917/webhook
//   RECEIVER_STATUS=500 node examples/receiver.mjs  answers 500 to every signed delivery instead
// RECEIVER_PORT changes the port. Outside this repository: npm install standardwebhooks
import { createServer } from 'node:http'
import { Webhook } from 'standardwebhooks'

// the observer's signing_secret
const webhook = new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
const port = Number(process.env.RECEIVER_PORT ?? 4917)
const refuseWith = process.env.RECEIVER_STATUS === undefined ? null : Number(process.env.RECEIVER_STATUS)
// the webhook-id of every event handled: retries, dead-letter retries and replays of one event
// carry the same id. A real receiver keeps them in its database, written in the same transaction
// as the work the event causes.
const handled = new Set()

createServer((req, res) => {
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk) => { body += chunk })
  req.on('end', () => {
    let event
    try {
      // the signature covers webhook-id, webhook-timestamp and the raw body; verify() also
      // refuses a timestamp more than five minutes away
      event = webhook.verify(body, req.headers)
    } catch (err) {
      console.log(`rejected: ${err.message}`)
      res.writeHead(400).end()
      return
    }
    const id = req.headers['webhook-id']
    if (refuseWith !== null) {
      // not handled: the observer retries it, with the same webhook-id
      console.log(`answering ${refuseWith} to ${id}`)
      res.writeHead(refuseWith).end()
      return
    }
    if (handled.has(id)) {
      console.log(`duplicate ${id}: handled already`)
    } else {
      handled.add(id)
      const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'idempotency-key']
        .map((name) => [name, req.headers[name]]))
      console.log(`verified ${id}`)
      console.log(JSON.stringify({ headers, event }, null, 2))
    }
    res.writeHead(204).end()
  })
}).listen(port, '127.0.0.1', () => console.log(`receiver listening on http://127.0.0.1:${port}/webhook`))
