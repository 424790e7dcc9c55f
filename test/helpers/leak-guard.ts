// Fails a test file that leaves something running when its tests are over: a pool's or a
// runtime's connection, a server, or a timer that keeps the process alive. Imported by the test
// helpers; tap runs teardowns last-in first-out, so this root teardown runs after every other.
import tap from 'tap'

// what a leaked pool, runtime, HTTP server or timer holds; child processes and tap's own pipes are not counted
const WATCHED = new Set(['TCPSocketWrap', 'TCPServerWrap', 'TCPWRAP', 'Timeout'])
const SETTLE_MS = 2000

function leaked (): string[] {
  return process.getActiveResourcesInfo().filter((kind) => WATCHED.has(kind))
}

let installed = false

export function guardAgainstLeaks (): void {
  if (installed) return
  installed = true
  tap.teardown(async () => {
    // a closed socket leaves the list on its close callback: give what was closed a moment
    const until = Date.now() + SETTLE_MS
    while (leaked().length > 0 && Date.now() < until) await new Promise((resolve) => setImmediate(resolve))
    const left = leaked()
    if (left.length === 0) return
    // what is left would keep the process up until tap's timeout: end it once the failure is out
    setTimeout(() => process.exit(1), 500).unref()
    throw new Error(`the tests of this file left running: ${left.join(', ')} (close pools, apps, servers and timers in a teardown)`)
  })
}
