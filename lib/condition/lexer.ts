// Turns condition source into tokens. The whole source is tokenised up front: it is at most
// 4096 bytes, and the parser then needs one token of lookahead past an identifier (`name(`).
import type { CompareOp } from './ast.js'
import { ConditionError } from './errors.js'

export type Punct = '(' | ')' | ',' | '!' | '&&' | '||' | CompareOp

export type Token =
  | { kind: 'punct', text: Punct, pos: number }
  /** An identifier or dotted path; keywords are recognised by the parser, where context decides. */
  | { kind: 'ident', text: string, path: string[], pos: number }
  | { kind: 'string', text: string, value: string, pos: number }
  | { kind: 'number', text: string, value: number, pos: number }
  | { kind: 'eof', text: '', pos: number }

const NUMBER = /-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y
const IDENT_HEAD = /[\p{L}_][\p{L}\p{N}_]*/uy
const IDENT_SEGMENT = /[\p{L}\p{N}_]+/uy
const WORD_CHAR = /[\p{L}\p{N}_.]/u
const HEX4 = /^[0-9a-fA-F]{4}$/

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r'
}

/** Shows a character in an error message; control characters as `\uXXXX`. */
export function showChar (source: string, pos: number): string {
  const cp = source.codePointAt(pos) ?? 0
  return cp < 0x20 || cp === 0x7f ? `\\u${cp.toString(16).padStart(4, '0')}` : String.fromCodePoint(cp)
}

function sticky (re: RegExp, source: string, pos: number): string | null {
  re.lastIndex = pos
  const m = re.exec(source)
  return m === null ? null : m[0]
}

function readString (source: string, start: number): Token {
  const quote = source[start]
  let value = ''
  let chunk = start + 1
  let i = start + 1
  while (i < source.length) {
    const c = source[i]
    if (c === quote) {
      value += source.slice(chunk, i)
      return { kind: 'string', text: source.slice(start, i + 1), value, pos: start }
    }
    if (c !== '\\') { i++; continue }
    value += source.slice(chunk, i)
    const esc = source[i + 1]
    if (esc === undefined) break
    if (esc === 'u') {
      const hex = source.slice(i + 2, i + 6)
      if (!HEX4.test(hex)) throw ConditionError.at(`invalid escape '\\u${hex}'`, i)
      value += String.fromCharCode(parseInt(hex, 16))
      i += 6
    } else if (Object.hasOwn(SIMPLE_ESCAPES, esc)) {
      value += SIMPLE_ESCAPES[esc]
      i += 2
    } else {
      throw ConditionError.at(`invalid escape '\\${showChar(source, i + 1)}'`, i)
    }
    chunk = i
  }
  throw ConditionError.at('unterminated string', start)
}

function readNumber (source: string, start: number, text: string): Token {
  const end = start + text.length
  if (end < source.length && WORD_CHAR.test(source[end])) {
    const word = sticky(/[-\p{L}\p{N}_.+]+/uy, source, start) ?? text
    throw ConditionError.at(`invalid number '${word}'`, start)
  }
  const value = Number(text)
  if (!Number.isFinite(value)) throw ConditionError.at(`number out of range '${text}'`, start)
  // -0 would print as 0 and break the print/parse round trip; it means the same anyway.
  return { kind: 'number', text, value: value === 0 ? 0 : value, pos: start }
}

function readIdent (source: string, start: number, head: string): Token {
  const path = [head]
  let i = start + head.length
  while (source[i] === '.') {
    const segment = sticky(IDENT_SEGMENT, source, i + 1)
    if (segment === null) throw ConditionError.at(`invalid path '${source.slice(start, i + 1)}'`, start)
    path.push(segment)
    i += 1 + segment.length
  }
  return { kind: 'ident', text: source.slice(start, i), path, pos: start }
}

function readPunct (source: string, i: number): Punct | null {
  const c = source[i]
  const next = source[i + 1]
  switch (c) {
    case '(': case ')': case ',': return c
    case '!': return next === '=' ? '!=' : '!'
    case '<': case '>': return next === '=' ? `${c}=` : c
    case '=':
      if (next === '=') return '=='
      throw ConditionError.at("unexpected character '=' (use '==')", i)
    case '&': return next === '&' ? '&&' : null
    case '|': return next === '|' ? '||' : null
    default: return null
  }
}

export function tokenize (source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (true) {
    while (i < source.length && (source[i] === ' ' || source[i] === '\t' || source[i] === '\n' || source[i] === '\r')) i++
    if (i >= source.length) break
    const c = source[i]
    let token: Token
    const punct = readPunct(source, i)
    if (punct !== null) {
      token = { kind: 'punct', text: punct, pos: i }
    } else if (c === '"' || c === "'") {
      token = readString(source, i)
    } else {
      const number = sticky(NUMBER, source, i)
      const head = number === null ? sticky(IDENT_HEAD, source, i) : null
      if (number !== null) token = readNumber(source, i, number)
      else if (head !== null) token = readIdent(source, i, head)
      else throw ConditionError.at(`unexpected character '${showChar(source, i)}'`, i)
    }
    tokens.push(token)
    i += token.text.length
  }
  tokens.push({ kind: 'eof', text: '', pos: source.length })
  return tokens
}
