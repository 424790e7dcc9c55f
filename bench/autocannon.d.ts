// The part of autocannon's API the bench uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram { average: number, mean: number, stddev: number, min: number, max: number, p50: number, p90: number, p97_5: number, p99: number, total: number }
  interface Result {
    latency: Histogram
    requests: Histogram
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
  }
  interface Options { url: string, connections?: number, duration?: number, pipelining?: number, headers?: Record<string, string> }
  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
