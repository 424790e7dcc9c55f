// Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one
// machine (both read the same system clock; bench/sink-client.ts still measures the offset).
export function now (): number {
  return performance.timeOrigin + performance.now()
}
