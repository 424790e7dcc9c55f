// The changes of a key that the reader has not read yet although they were made before rows it has
// (a higher txid, a lower id): see "Per-key order" in lib/runtime/README.md.
import type { Kysely } from 'kysely'
import type { Position } from './change-log.repo.js'
import { qualified, statement } from './statements.js'
import type { Database } from './types.js'

/** A key of a batch: its rows there span these txids and ids. */
export interface KeySpan { objectType: string, objectId: string, minTxid: string, maxId: string }

/** A committed row of a key, outside the batch and not read yet. */
export interface UnreadChange extends Position { objectType: string, objectId: string }

// Per key, one range scan of tb_entity_change_log_key_txid over the key's rows with a higher txid
// than the batch's first row of it: rows the reader has not reached, usually none or a few. The
// id bound is checked in the index; the key itself on the row (the index holds its hash).
const unreadBefore = statement((schema) => `
  select k.object_type, k.object_id, c.txid::text as txid, c.pk_entity_change_log::text as id
    from unnest($1::text[], $2::text[], $3::xid8[], $4::bigint[]) as k(object_type, object_id, min_txid, max_id)
    join lateral (
      select c.txid, c.pk_entity_change_log
        from ${qualified(schema, 'tb_entity_change_log')} c
       where hashtextextended(c.object_type, hashtextextended(c.object_id, 0)) = hashtextextended(k.object_type, hashtextextended(k.object_id, 0))
         and c.txid > k.min_txid and c.pk_entity_change_log < k.max_id
         and c.object_type = k.object_type and c.object_id = k.object_id
         and c.pk_entity_change_log <> all($5::bigint[])
         and not exists (select 1 from ${qualified(schema, 'tb_change_log_ahead')} a
                          where a.listener_id = $6 and a.change_log_id = c.pk_entity_change_log)) c on true`)

/**
 * Committed rows of the given keys with a higher txid than the key's first row in the batch and
 * a lower id than its last, that are neither in the batch (`batchIds`) nor in the listener's
 * ahead-ledger (delivered already). One statement for the whole batch.
 */
export async function unreadEarlierChanges (db: Kysely<Database>, schema: string, listenerId: string, keys: readonly KeySpan[], batchIds: readonly string[]): Promise<UnreadChange[]> {
  if (keys.length === 0) return []
  const { rows } = await unreadBefore<{ object_type: string, object_id: string, txid: string, id: string }>(db, schema, [
    keys.map((k) => k.objectType), keys.map((k) => k.objectId), keys.map((k) => k.minTxid), keys.map((k) => k.maxId), batchIds, listenerId
  ])
  return rows.map((r) => ({ objectType: r.object_type, objectId: r.object_id, txid: r.txid, id: r.id }))
}
