// The admin API's HTTP contract: every request and response shape, as TypeBox schemas
// (the validation, the serializer, the handler types and the OpenAPI document at once).
export * from './schemas/common.js'
export * from './schemas/observers.js'
export * from './schemas/blocked-keys.js'
export * from './schemas/logs.js'
export * from './schemas/dry-run.js'
export * from './schemas/runtime.js'
export * from './schemas/dead-letters.js'
export * from './schemas/changelog.js'
export * from './schemas/endpoints.js'
export * from './schemas/throughput.js'
export * from './schemas/jobs.js'
export * from './schemas/listeners.js'
