// Canonical source for a syntax tree: `&&` `||` `!`, single-quoted strings, parentheses only where
// the tree needs them. parseCondition(printCondition(node)) deep-equals node.
import type { ConditionNode, LiteralValue } from './ast.js'
import { KEYWORDS } from './parser.js'

const IDENT_HEAD = /^[\p{L}_][\p{L}\p{N}_]*$/u
const IDENT_SEGMENT = /^[\p{L}\p{N}_]+$/u

function isBarePath (path: readonly string[]): boolean {
  return path.length > 0 && IDENT_HEAD.test(path[0]) && path.slice(1).every(s => IDENT_SEGMENT.test(s))
}

function escapeChar (c: string): string {
  switch (c) {
    case '\\': return '\\\\'
    case "'": return "\\'"
    case '\n': return '\\n'
    case '\t': return '\\t'
    case '\r': return '\\r'
    default: return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  }
}

function isLoneSurrogate (value: string, i: number): boolean {
  const code = value.charCodeAt(i)
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = value.charCodeAt(i + 1)
    return !(next >= 0xdc00 && next <= 0xdfff)
  }
  if (code >= 0xdc00 && code <= 0xdfff) {
    const prev = value.charCodeAt(i - 1)
    return !(prev >= 0xd800 && prev <= 0xdbff)
  }
  return false
}

/** Control characters and lone surrogates are escaped so the text survives any UTF-8 store. */
export function printString (value: string): string {
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i]
    const code = value.charCodeAt(i)
    const escape = c === '\\' || c === "'" || code < 0x20 || code === 0x7f || isLoneSurrogate(value, i)
    out += escape ? escapeChar(c) : c
  }
  return `'${out}'`
}

function printLiteral (value: LiteralValue): string {
  if (typeof value === 'string') return printString(value)
  return String(value)
}

function printPath (path: readonly string[]): string {
  if (!isBarePath(path) || (path.length === 1 && KEYWORDS.has(path[0].toLowerCase()))) {
    throw new TypeError(`path ${JSON.stringify(path)} has no source form`)
  }
  return path.join('.')
}

function printArgument (path: readonly string[]): string {
  const joined = path.join('.')
  return isBarePath(path) ? joined : printString(joined)
}

function wrap (node: ConditionNode, parens: boolean): string {
  const text = printCondition(node)
  return parens ? `(${text})` : text
}

export function printCondition (node: ConditionNode): string {
  switch (node.type) {
    case 'literal': return printLiteral(node.value)
    case 'path': return printPath(node.path)
    case 'compare': return `${printCondition(node.left)} ${node.op} ${printCondition(node.right)}`
    case 'call': {
      const value = 'value' in node ? `, ${printLiteral(node.value)}` : ''
      return `${node.name}(${printArgument(node.path)}${value})`
    }
    case 'not': return `!${wrap(node.operand, node.operand.type === 'and' || node.operand.type === 'or')}`
    // A nested chain of the same operator keeps its parentheses: the tree is not flattened.
    case 'and': return node.operands.map(o => wrap(o, o.type === 'and' || o.type === 'or')).join(' && ')
    case 'or': return node.operands.map(o => wrap(o, o.type === 'or')).join(' || ')
  }
}
