// Recursive descent over the token list. Recursion happens only through '(' and '!', and each of
// those checks the depth limit before descending, so the stack stays shallow on any input
// (10 000 nested parentheses fail at the 65th with a ConditionError, never a RangeError).
//
//   or      := and (('||' | OR) and)*
//   and     := unary (('&&' | AND) unary)*
//   unary   := ('!' | NOT) unary | primary
//   primary := '(' or ')' | call | operand (cmp operand)?
//   call    := name '(' path-or-string (',' literal)? ')'
//   operand := path | string | number | true | false | null
//
// `!a == 1` is `!(a == 1)`: a comparison is a primary, as in SQL.
import {
  type CompareOp, type ConditionNode, type LiteralValue, type OperandNode,
  COMPARE_OPS, FUNCTION_ARITY, MAX_CONDITION_DEPTH, isFunctionName
} from './ast.js'
import { ConditionError } from './errors.js'
import type { Token } from './lexer.js'

interface Parsed { node: ConditionNode, depth: number }

const MAX_SHOWN = 32
/** Reserved as a whole word in any case; usable after a dot (`data.null`) or as a function argument. */
export const KEYWORDS: ReadonlySet<string> = new Set(['and', 'or', 'not', 'true', 'false', 'null'])

function keyword (token: Token): string | null {
  return token.kind === 'ident' && token.path.length === 1 ? token.text.toLowerCase() : null
}

/** Splits a quoted path argument; every segment must be non-empty. */
function splitPath (token: Token & { kind: 'string' }): string[] {
  const path = token.value.split('.')
  if (path.some(segment => segment === '')) throw ConditionError.at(`invalid path ${token.text}`, token.pos)
  return path
}

export class Parser {
  private readonly tokens: Token[]
  private index = 0

  constructor (tokens: Token[]) {
    this.tokens = tokens
  }

  parse (): ConditionNode {
    if (this.peek().kind === 'eof') throw ConditionError.at('empty condition', 0)
    const { node } = this.parseLogical('or', 0)
    if (this.peek().kind !== 'eof') throw this.unexpected(this.peek())
    return node
  }

  private peek (offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]
  }

  private next (): Token {
    const token = this.peek()
    if (token.kind !== 'eof') this.index++
    return token
  }

  private unexpected (token: Token): ConditionError {
    if (token.kind === 'eof') return ConditionError.at('unexpected end of condition', token.pos)
    const shown = token.text.length > MAX_SHOWN ? `${token.text.slice(0, MAX_SHOWN)}...` : token.text
    return ConditionError.at(`unexpected token '${shown}'`, token.pos)
  }

  private expect (text: string): Token {
    const token = this.next()
    if (token.kind !== 'punct' || token.text !== text) throw this.unexpected(token)
    return token
  }

  private checkDepth (depth: number, pos: number): number {
    if (depth > MAX_CONDITION_DEPTH) {
      throw ConditionError.at(`condition nesting exceeds depth ${MAX_CONDITION_DEPTH}`, pos)
    }
    return depth
  }

  private isOperator (token: Token, type: 'and' | 'or'): boolean {
    if (token.kind === 'punct') return token.text === (type === 'and' ? '&&' : '||')
    return keyword(token) === type
  }

  /** `level` counts the enclosing '(' and '!', each of which adds one to the final depth. */
  private parseLogical (type: 'and' | 'or', level: number): Parsed {
    const operand = (): Parsed => type === 'or' ? this.parseLogical('and', level) : this.parseUnary(level)
    const first = operand()
    if (!this.isOperator(this.peek(), type)) return first
    const opPos = this.peek().pos
    const operands = [first.node]
    let depth = first.depth
    while (this.isOperator(this.peek(), type)) {
      this.next()
      const more = operand()
      operands.push(more.node)
      depth = Math.max(depth, more.depth)
    }
    return { node: { type, operands }, depth: this.checkDepth(depth + 1, opPos) }
  }

  private parseUnary (level: number): Parsed {
    const token = this.peek()
    if ((token.kind === 'punct' && token.text === '!') || keyword(token) === 'not') {
      this.next()
      this.checkDepth(level + 1, token.pos)
      const inner = this.parseUnary(level + 1)
      return { node: { type: 'not', operand: inner.node }, depth: this.checkDepth(inner.depth + 1, token.pos) }
    }
    return this.parsePrimary(level)
  }

  private parsePrimary (level: number): Parsed {
    const token = this.peek()
    if (token.kind === 'punct' && token.text === '(') {
      this.next()
      this.checkDepth(level + 1, token.pos)
      const inner = this.parseLogical('or', level + 1)
      this.expect(')')
      return { node: inner.node, depth: this.checkDepth(inner.depth + 1, token.pos) }
    }
    const after = this.peek(1)
    if (token.kind === 'ident' && after.kind === 'punct' && after.text === '(' && !isKeyword(token)) {
      return { node: this.parseCall(), depth: 0 }
    }
    const left = this.parseOperand()
    const op = this.peek()
    if (op.kind !== 'punct' || !COMPARE_OPS.includes(op.text as CompareOp)) return { node: left, depth: 0 }
    this.next()
    const right = this.parseOperand()
    return { node: { type: 'compare', op: op.text as CompareOp, left, right }, depth: 0 }
  }

  private parseOperand (): OperandNode {
    const token = this.peek()
    if (token.kind === 'ident' && !isLiteralKeyword(token)) {
      const word = keyword(token)
      if (word === 'and' || word === 'or' || word === 'not') throw this.unexpected(token)
      this.next()
      return { type: 'path', path: token.path }
    }
    return { type: 'literal', value: this.parseLiteral() }
  }

  private parseLiteral (): LiteralValue {
    const token = this.next()
    if (token.kind === 'string' || token.kind === 'number') return token.value
    switch (keyword(token)) {
      case 'true': return true
      case 'false': return false
      case 'null': return null
      default: throw this.unexpected(token)
    }
  }

  private parseCall (): ConditionNode {
    const nameToken = this.next() as Token & { kind: 'ident' }
    const name = nameToken.text.toLowerCase()
    if (!isFunctionName(name)) throw ConditionError.at(`unknown function '${nameToken.text}'`, nameToken.pos)
    const arity = FUNCTION_ARITY[name]
    const plural = arity === 1 ? 'argument' : 'arguments'
    this.expect('(')
    const arg = this.next()
    // Any word is a path here, keywords included: `has_field(null)` tests a field named null.
    let path: string[]
    if (arg.kind === 'ident') path = arg.path
    else if (arg.kind === 'string') path = splitPath(arg)
    else throw this.unexpected(arg)
    const sep = this.peek()
    const wanted = arity === 1 ? ')' : ','
    if (sep.kind === 'punct' && (sep.text === ',' || sep.text === ')') && sep.text !== wanted) {
      throw ConditionError.at(`function '${name}' takes ${arity} ${plural}`, sep.pos)
    }
    this.expect(wanted)
    if (name === 'has_field' || name === 'field_changed') {
      return { type: 'call', name, path }
    }
    const value = this.parseLiteral()
    const close = this.peek()
    if (close.kind === 'punct' && close.text === ',') {
      throw ConditionError.at(`function '${name}' takes ${arity} ${plural}`, close.pos)
    }
    this.expect(')')
    return { type: 'call', name, path, value }
  }
}

function isLiteralKeyword (token: Token): boolean {
  const word = keyword(token)
  return word === 'true' || word === 'false' || word === 'null'
}

function isKeyword (token: Token): boolean {
  const word = keyword(token)
  return word !== null && KEYWORDS.has(word)
}
