// `npm run bench -- [scenario …] [--quick] [--no-ceilings] [--keep-schemas] [--log-level warn]
//   [--runtime '{"batchSize":500}'] [--cpu-prof] [--otel]`
import type { ObserverPluginOptions } from '../index.js'

export const SCENARIOS = ['backlog', 'backlog-1m', 'nats', 'fanout', 'ordered', 'ordered-failing', 'dead-endpoint', 'slow-endpoint', 'rate-limited', 'steady', 'admin', 'ceilings', 'startup', 'first-delivery', 'size', 'many-observers', 'retention', 'backfill', 'scaleout'] as const
export type ScenarioName = typeof SCENARIOS[number]
const NAMED_ONLY: readonly ScenarioName[] = ['backlog-1m', 'nats', 'size', 'many-observers', 'retention', 'backfill', 'scaleout']

export interface BenchArgs {
  scenarios: ScenarioName[]
  quick: boolean
  ceilings: boolean
  keepSchemas: boolean
  logLevel: string
  runtime: NonNullable<ObserverPluginOptions['runtime']>
  cpuProf: boolean
  heapProf: boolean
  compiled: boolean
  otel: boolean
  /** rows of the backfill scenario's table (default 1 000 000, 100 000 with --quick) */
  rows?: number
}

export const USAGE = `usage: npm run bench -- [${SCENARIOS.join('|')} …] [options]
  (no scenario: all of them but backlog-1m, nats, size, many-observers, retention, backfill and scaleout; the ceilings run whenever backlog or fanout does;
   nats needs Debian's nats-server: \`npm run bench -- backlog nats\` gives its ratio to the backlog)
  --quick             small sizes, for a smoke run (results file marked -quick)
  --no-ceilings       skip the HTTP and Postgres ceilings
  --keep-schemas      leave each scenario's schema in the database
  --log-level LEVEL   runtime log level, written to a file per scenario (warn)
  --runtime JSON      runtime option overrides, e.g. '{"batchSize":500,"concurrency":64}'
  --tsx               measure the TypeScript sources through tsx instead of the plugin compiled with tsc
                      (faster to start; tsx adds CPU and ~45 MB RSS a deployment does not pay)
  --cpu-prof          CPU-profile each scenario's measured window (bench/profiles/), print the top self times
  --heap-prof         sample allocations over the same windows, print the top allocation sites
  --rows N            rows of the backfill scenario's table (1 000 000; 100 000 with --quick)
  --otel              run the backlog a second time with an OpenTelemetry SDK registered (spans to a
                      no-op exporter), after the plain one: the spans' cost, in the same run
env: BENCH_DATABASE_URL  use this database instead of starting an embedded PostgreSQL`

export function parseArgs (argv: string[]): BenchArgs {
  const args: BenchArgs = { scenarios: [], quick: false, ceilings: true, keepSchemas: false, logLevel: 'warn', runtime: {}, cpuProf: false, heapProf: false, compiled: true, otel: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`)
      return v
    }
    if (arg === '--help' || arg === '-h') throw new Error(USAGE)
    if (arg === '--quick') args.quick = true
    else if (arg === '--cpu-prof') args.cpuProf = true
    else if (arg === '--heap-prof') args.heapProf = true
    else if (arg === '--tsx') args.compiled = false
    else if (arg === '--otel') args.otel = true
    else if (arg === '--no-ceilings') args.ceilings = false
    else if (arg === '--keep-schemas') args.keepSchemas = true
    else if (arg === '--log-level') args.logLevel = value()
    else if (arg === '--runtime') args.runtime = JSON.parse(value())
    else if (arg === '--rows') args.rows = Number.parseInt(value(), 10)
    else if ((SCENARIOS as readonly string[]).includes(arg)) args.scenarios.push(arg as ScenarioName)
    else throw new Error(`unknown argument ${arg}\n${USAGE}`)
  }
  // the million-row drain and the scenarios of issues 25 – 27 take minutes, nats needs a nats-server: only when named
  if (args.scenarios.length === 0) args.scenarios = SCENARIOS.filter((s) => !NAMED_ONLY.includes(s))
  if (args.ceilings && (args.scenarios.includes('backlog') || args.scenarios.includes('fanout')) && !args.scenarios.includes('ceilings')) {
    args.scenarios.push('ceilings')
  }
  if (!args.ceilings) args.scenarios = args.scenarios.filter((s) => s !== 'ceilings')
  // a fixed order: backlog first, so its peak RSS is that of a fresh process
  args.scenarios.sort((a, b) => SCENARIOS.indexOf(a) - SCENARIOS.indexOf(b))
  return args
}
