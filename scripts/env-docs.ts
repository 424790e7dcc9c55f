// `npm run docs:env`: writes the README's table of OBSERVERS_* variables from the options schema
// (names, what they take, defaults) and the one-line doc beside each option in lib/options.ts;
// `--check` exits 1 when the README differs (test/server/option-variables.test.ts checks the same).
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describeKind, optionVariables, type OptionVariable } from '../server/option-variables.js'

export const README_FILE = fileURLToPath(new URL('../README.md', import.meta.url))
const OPTIONS_FILE = fileURLToPath(new URL('../lib/options.ts', import.meta.url))
const START = '<!-- env-table: generated from lib/options.ts by `npm run -s docs:env`; do not edit by hand -->'
const END = '<!-- env-table: end -->'

/** Each option's `/** doc *\/` by property name, without its trailing "(default)". */
function docComments (source: string): Map<string, string> {
  const docs = new Map<string, string>()
  for (const [, text, name] of source.matchAll(/\/\*\*\s*(.+?)\s*\*\/\s*\n\s*(\w+)\s*:/g)) {
    docs.set(name, text.replace(/\s*\([^()]*\)$/, '').replaceAll('|', '\\|'))
  }
  return docs
}

function shownDefault (variable: OptionVariable): string {
  const value = variable.schema.default
  if (value === undefined) return '—'
  if (typeof value === 'object') return variable.path.join('.') === 'runtime.circuitBreaker' ? 'on' : `\`${JSON.stringify(value)}\``
  return `\`${String(value)}\``
}

/** The markdown table, one row per variable. */
export async function generateEnvTable (): Promise<string> {
  const docs = docComments(await readFile(OPTIONS_FILE, 'utf8'))
  const rows = optionVariables().map((variable) => {
    const names = [variable.name, ...variable.aliases].map((name) => `\`${name}\``).join(' or ')
    const meaning = docs.get(variable.path[variable.path.length - 1]) ?? ''
    return `| ${names} | \`${variable.path.join('.')}\` | ${describeKind(variable.schema)} | ${shownDefault(variable)} | ${meaning} |`
  })
  return [START, '| variable | option | takes | default | meaning |', '|---|---|---|---|---|', ...rows, END].join('\n')
}

/** The README with its table replaced by `table`; throws when the markers are missing. */
export function withTable (readme: string, table: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error(`README.md has no env-table markers (${START} ... ${END})`)
  return readme.slice(0, start) + table + readme.slice(end + END.length)
}

async function main (): Promise<void> {
  const readme = await readFile(README_FILE, 'utf8')
  const updated = withTable(readme, await generateEnvTable())
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error('README.md lists other OBSERVERS_* variables than the options schema has: run `npm run -s docs:env` and commit the result')
      process.exit(1)
    }
    return
  }
  if (updated !== readme) await writeFile(README_FILE, updated)
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main()
