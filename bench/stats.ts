// Small numeric helpers for the report.

export interface Distribution {
  count: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

export function round (value: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Nearest-rank percentiles of `values` (ms), rounded to µs. */
export function distribution (values: number[]): Distribution {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 }
  const sorted = Float64Array.from(values).sort()
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    mean: round(sum / sorted.length, 3),
    p50: round(at(0.5), 3),
    p95: round(at(0.95), 3),
    p99: round(at(0.99), 3),
    max: round(sorted[sorted.length - 1], 3)
  }
}

export function mb (bytes: number): number {
  return Math.round(bytes / 1048576)
}
