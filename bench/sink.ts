// The webhook sink of `npm run bench`, in a process of its own (forked by bench/sink-client.ts):
// a keep-alive node:http server on 127.0.0.1:0 that answers 200, or 500 for a configured fraction
// of early attempts, and records what arrived. It keeps counters and one small record per
// delivery, never the bodies, so it stays cheap at tens of thousands of requests a second.
// Reset with `status` or `delayMs` it plays a dead or a slow endpoint; a scenario that needs a
// second endpoint (another origin) forks a second sink.
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { now } from './clock.js'
import { serve } from './ipc.js'
import type { SinkConfig, SinkReady, SinkRequestTimes, SinkStats, SinkTimes } from './sink-protocol.js'

interface Delivery { attempts: number, ok: number, eventId: string }

let config: SinkConfig = { failureFraction: 0, failUpTo: 0, keepTimes: false }
let deliveries = new Map<string, Delivery>()
let times = new Map<string, number>()
let requestTimes: SinkRequestTimes = []
let stats: SinkStats = emptyStats()

function emptyStats (): SinkStats {
  return { requests: 0, answered500: 0, answeredStatus: 0, delivered: 0, duplicates: 0, duplicateRequests: 0, unparsable: 0, attemptsToSucceed: {}, firstAt: null, lastOkAt: null, checksum: 0 }
}

// FNV-1a then murmur3's finaliser: a fixed, cheap hash, so a given (delivery, attempt) always gets
// the same answer. Without the finaliser, keys differing in their last character (the attempt)
// hash close together and a delivery failing once would fail again.
function unitHash (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 0x100000000
}

function md5Prefix (eventId: string): number {
  return parseInt(createHash('md5').update(eventId).digest('hex').slice(0, 8), 16)
}

function answer (res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': 2 }).end(status === 200 ? 'ok' : 'no')
}

function receive (at: number, body: string, res: ServerResponse): void {
  if (config.status !== undefined) {
    stats.answeredStatus++
    return answer(res, config.status)
  }
  let eventId: string
  let key: string
  try {
    const envelope = JSON.parse(body) as { event_id?: unknown, entity_id?: unknown, observer?: { id?: unknown } }
    if (typeof envelope.event_id !== 'string') throw new Error('no event_id')
    eventId = envelope.event_id
    key = `${eventId} ${String(envelope.observer?.id ?? '')}`
    if (config.failEntity !== undefined && envelope.entity_id === config.failEntity) {
      stats.answered500++
      return answer(res, 500)
    }
  } catch {
    stats.unparsable++
    return answer(res, 400)
  }
  let delivery = deliveries.get(key)
  if (delivery === undefined) {
    delivery = { attempts: 0, ok: 0, eventId }
    deliveries.set(key, delivery)
  }
  const attempt = ++delivery.attempts
  if (config.failureFraction > 0 && attempt <= config.failUpTo && unitHash(`${key}#${attempt}`) < config.failureFraction) {
    stats.answered500++
    return answer(res, 500)
  }
  delivery.ok++
  stats.lastOkAt = at
  if (delivery.ok > 1) {
    if (delivery.ok === 2) stats.duplicates++
    stats.duplicateRequests++
  } else {
    stats.delivered++
    stats.checksum += md5Prefix(eventId)
    stats.attemptsToSucceed[attempt] = (stats.attemptsToSucceed[attempt] ?? 0) + 1
    if (config.keepTimes && !times.has(eventId)) times.set(eventId, at)
  }
  answer(res, 200)
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const at = now()
  stats.requests++
  stats.firstAt ??= at
  if (config.keepRequestTimes === true) requestTimes.push(at)
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0].toString() : Buffer.concat(chunks).toString()
    if (config.delayMs === undefined) receive(at, body, res)
    else setTimeout(() => receive(at, body, res), config.delayMs)
  })
})
// the clients keep their sockets for seconds; never be the side that closes an idle one first
server.keepAliveTimeout = 60_000
server.headersTimeout = 65_000

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const ready: SinkReady = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }

serve({
  reset: (next: SinkConfig) => {
    config = next
    deliveries = new Map()
    times = new Map()
    requestTimes = []
    stats = emptyStats()
    return true
  },
  stats: () => stats,
  times: (): SinkTimes => [...times],
  requestTimes: (): SinkRequestTimes => requestTimes,
  clock: () => now(),
  memory: () => process.memoryUsage().rss,
  cpu: () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1e6
  }
}, ready)
