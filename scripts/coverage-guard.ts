// After `npm test`: finds processes whose coverage of a source file was recorded against another
// compiled form of it than the rest (a child that loaded the sources through tsx, not tap's loader).
// tap merges coverage by file and offset, so one such process makes its report wrong: well-covered
// lines read as missed, and the thresholds fail for no test's fault.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface Coverage { result: Array<{ url: string, functions: Array<{ ranges: Array<{ endOffset: number }> }> }> }

/** One line per process whose coverage does not fit the others', naming the process. */
export function mismatchedCoverage (tapDir = '.tap'): string[] {
  const dir = join(tapDir, 'coverage')
  if (!existsSync(dir)) return []
  // script length by file, per process: the compiled form's fingerprint
  const lengths = new Map<string, Map<number, string[]>>()
  for (const name of readdirSync(dir)) {
    const coverage = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Coverage
    for (const script of coverage.result) {
      const length = script.functions[0]?.ranges[0]?.endOffset
      if (length === undefined || !script.url.startsWith('file:')) continue
      const byLength = lengths.get(script.url) ?? new Map<number, string[]>()
      byLength.set(length, [...(byLength.get(length) ?? []), name])
      lengths.set(script.url, byLength)
    }
  }
  const odd = new Set<string>()
  for (const byLength of lengths.values()) {
    if (byLength.size < 2) continue
    const common = [...byLength.values()].sort((a, b) => b.length - a.length)[0]
    for (const names of byLength.values()) if (names !== common) names.forEach((name) => odd.add(name))
  }
  return [...odd].map((name) => {
    const infoFile = join(tapDir, 'processinfo', name)
    const argv = existsSync(infoFile) ? (JSON.parse(readFileSync(infoFile, 'utf8')) as { argv?: string[] }).argv ?? [] : []
    return `${argv.join(' ')}: its coverage was recorded against other compiled sources; spawn it with _TAPJS_PROCESSINFO_COVERAGE_=0 (test/helpers/processes.ts withoutCoverage)`
  })
}
