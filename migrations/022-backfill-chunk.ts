// A backfill chunk as one statement (lib/db/backfill.repo.ts). From the moment a chunk's transaction
// takes its id until it commits, the reader cannot read past it, and a live change committed
// meanwhile waits. In a function called outside a transaction block, that window is the server's
// own work: no round trip to the client between the id, the chunk, the job's progress and the
// commit. The chunk's statement comes from the caller (the table, its key and its filters are the
// job's, checked against the catalog); its values are bound (`args`, referenced as $1[n]).
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function backfillChunk (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`
        create function ${t('backfill_chunk')}(chunk text, args text[], wait_ms integer, job bigint, token uuid, lease_ms integer, after_key text, through jsonb)
        returns jsonb language plpgsql as $fn$
        declare
          xid xid8 := pg_current_xact_id();
          give_up timestamptz := clock_timestamp() + wait_ms * interval '1 millisecond';
          waited integer := 0;
          written record;
          job_status text;
        begin
          -- each check takes a fresh snapshot (READ COMMITTED, a volatile function): once no
          -- transaction with a lower id runs, the chunk's snapshot sees everything they wrote.
          -- Waiting here holds the reader back no further than those transactions already do.
          while pg_snapshot_xmin(pg_current_snapshot()) < xid loop
            if clock_timestamp() > give_up then
              return jsonb_build_object('status', 'busy');
            end if;
            perform pg_sleep(0.0002 * 2 ^ waited);
            waited := least(waited + 1, 5);
          end loop;
          execute chunk into written using args;
          update ${t('tb_observer_job')} j
             set cursor = jsonb_build_object('after', coalesce(written.last, after_key),
                                             'through', case when written.head is null then through
                                                             else jsonb_build_object('txid', xid::text, 'id', written.head) end),
                 done = j.done + written.count,
                 claimed_until = now() + lease_ms * interval '1 millisecond', updated_at = now()
           where j.pk_observer_job = job and j.claimed_by = token
          returning j.status into job_status;
          if job_status is null then
            -- the claim passed to another instance: nothing of the chunk commits
            raise exception 'the job''s claim passed to another instance' using errcode = 'OBJ01';
          end if;
          return jsonb_build_object('status', job_status, 'last', written.last, 'count', written.count,
                                    'txid', xid::text, 'head', written.head);
        end
        $fn$`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop function ${t('backfill_chunk')}(text, text[], integer, bigint, uuid, integer, text, jsonb)`.execute(db)
    }
  }
}
