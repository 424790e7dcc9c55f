// Re-exports for print.test.ts, plus the keyword set the tree generator must avoid.
export * from '../../lib/condition/index.js'
export { KEYWORDS as KEYWORDS_FOR_TESTS } from '../../lib/condition/parser.js'
