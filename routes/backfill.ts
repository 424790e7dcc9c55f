// POST /captures/:schema/:table/backfill: the table's existing rows as READ change-log rows, as a
// job; with dry_run, only how many rows it would write. Columns and types come from the catalog.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from 'typebox'
import { countBackfill, describeTable, type BackfillFilter } from '../lib/db/backfill.repo.js'
import { listCaptures } from '../lib/db/captures.repo.js'
import { insertJob } from '../lib/db/jobs.repo.js'
import { NotFoundError, ValidationError } from '../lib/errors.js'
import { BACKFILL_CHUNK, type BackfillParams } from '../lib/runtime/jobs/backfill.js'
import { BackfillBodySchema, CaptureParamsSchema, JobCreatedSchema, JobEstimateSchema, bodyErrors } from './schemas.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

type Body = Static<typeof BackfillBodySchema>

function checkFilters (filter: NonNullable<Body['filter']>, columns: Map<string, string>): BackfillFilter[] {
  return filter.map((f, i) => {
    const type = columns.get(f.column)
    if (type === undefined) throw new ValidationError(`body/filter/${i}/column: the table has no column ${JSON.stringify(f.column)}`)
    if ((f.op === 'in') !== Array.isArray(f.value)) {
      throw new ValidationError(`body/filter/${i}/value must be ${f.op === 'in' ? 'a list for op in' : `one value for op ${f.op}`}`)
    }
    return { column: f.column, op: f.op, value: f.value, type }
  })
}

export const backfillRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, schema } = app.observers

  app.post('/captures/:schema/:table/backfill', {
    schema: {
      operationId: 'backfillTable',
      tags: ['jobs'],
      summary: 'Write the table\'s existing rows to the change log as READ events, as a job (primary-key order, while live writes go on)',
      description: 'Observers whose event_type is null or READ receive them. A READ and a live change of one row reach an ordered observer in ' +
        'an order that ends on the row\'s latest state. dry_run answers 200 { total }; otherwise 202 { job_id }. Refused (403) to a tenant\'s request.',
      params: CaptureParamsSchema,
      body: BackfillBodySchema,
      response: { 200: JobEstimateSchema, 202: JobCreatedSchema, ...bodyErrors(403, 404) }
    }
  }, async (request, reply) => {
    requireInstanceWide(await scopeOf(app, request), 'a backfill')
    const { schema: tableSchema, table } = request.params
    const body = request.body
    const described = await describeTable(db, tableSchema, table)
    if (described === undefined) throw new NotFoundError(`table ${tableSchema}.${table}`)
    if (described.primaryKey.length !== 1) throw new ValidationError(`table ${tableSchema}.${table} needs a primary key of one column (it has ${described.primaryKey.length})`)
    const key = described.primaryKey[0]
    const capture = (await listCaptures(db, schema)).find((c) => c.schema === tableSchema && c.table === table)
    const params: BackfillParams = {
      schema: tableSchema,
      table,
      key,
      key_type: described.columns.get(key) as string,
      id_column: capture?.id_column ?? key,
      entity_type: body.entity_type ?? capture?.entity_type ?? table,
      filters: checkFilters(body.filter ?? [], described.columns),
      chunk: body.chunk_size ?? BACKFILL_CHUNK
    }
    const total = await countBackfill(db, params)
    if (body.dry_run === true) return await reply.code(200).send({ total })
    const job = await insertJob(db, schema, { kind: 'backfill', observer_id: null, tenant_id: null, params: { ...params }, cursor: { after: null }, total })
    app.observers.wakeJobs()
    return await reply.code(202).send({ job_id: job.id })
  })
}
