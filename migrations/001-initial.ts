// The plugin's tables, indexes, capture trigger function and wake-up triggers.
// Landed migrations are never edited: add a new numbered file instead.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function initial (schema: string): Migration {
  const s = sql.id(schema)
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create schema if not exists ${s}`.execute(db)
      const d = db.withSchema(schema).schema

      await d.createTable('tb_observer')
        .addColumn('pk_observer', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('id', 'uuid', (c) => c.notNull().unique().defaultTo(sql`gen_random_uuid()`))
        .addColumn('name', 'text', (c) => c.notNull().check(sql`length(name) between 1 and 200`))
        .addColumn('description', 'text')
        .addColumn('entity_type', 'text')
        .addColumn('event_type', 'text', (c) => c.check(sql`event_type in ('INSERT', 'UPDATE', 'DELETE', 'CUSTOM')`))
        .addColumn('condition_expression', 'text', (c) => c.check(sql`octet_length(condition_expression) <= 4096`))
        .addColumn('actions', 'jsonb', (c) => c.notNull().check(sql`jsonb_typeof(actions) = 'array' and jsonb_array_length(actions) > 0`))
        .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(100).check(sql`priority between 0 and 1000`))
        .addColumn('retry_config', 'jsonb')
        .addColumn('timeout_ms', 'integer', (c) => c.notNull().defaultTo(30000).check(sql`timeout_ms > 0`))
        .addColumn('tenant_id', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('created_by', 'text')
        .addColumn('updated_by', 'text')
        .addColumn('deleted_at', 'timestamptz')
        .execute()
      // a name is unique among the live observers of one tenant (global observers form one tenant)
      await sql`create unique index tb_observer_live_name on ${t('tb_observer')} (coalesce(tenant_id, ''), name) where deleted_at is null`.execute(db)
      await sql`create index tb_observer_live_order on ${t('tb_observer')} (priority, created_at) where deleted_at is null`.execute(db)

      await d.createTable('tb_entity_change_log')
        .addColumn('pk_entity_change_log', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
        .addColumn('id', 'uuid', (c) => c.notNull().defaultTo(sql`gen_random_uuid()`))
        .addColumn('object_type', 'text', (c) => c.notNull())
        .addColumn('object_id', 'text', (c) => c.notNull())
        .addColumn('modification_type', 'text', (c) => c.notNull())
        .addColumn('object_data', 'jsonb')
        .addColumn('object_data_before', 'jsonb')
        .addColumn('updated_fields', sql`text[]`)
        .addColumn('tenant_id', 'text')
        .addColumn('user_id', 'text')
        .addColumn('trace_id', 'text')
        .addColumn('extra_metadata', 'jsonb')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        // the writing transaction: the reader orders by (txid, pk) below the snapshot horizon,
        // which is what makes reading commit-order safe (see lib/runtime/reader.ts)
        .addColumn('txid', sql`xid8`, (c) => c.notNull().defaultTo(sql`pg_current_xact_id()`))
        .execute()
      await sql`create index tb_entity_change_log_commit_order on ${t('tb_entity_change_log')} (txid, pk_entity_change_log)`.execute(db)
      await sql`create index tb_entity_change_log_object on ${t('tb_entity_change_log')} (object_type, pk_entity_change_log)`.execute(db)
      await sql`create index tb_entity_change_log_created on ${t('tb_entity_change_log')} (created_at)`.execute(db)

      await d.createTable('tb_observer_log')
        .addColumn('pk_observer_log', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('observer_id', 'uuid', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('change_log_id', 'bigint')
        .addColumn('entity_type', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('action_index', 'integer', (c) => c.notNull())
        .addColumn('action_type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempt_number', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('next_retry_at', 'timestamptz')
        .addColumn('started_at', 'timestamptz', (c) => c.notNull())
        .addColumn('completed_at', 'timestamptz')
        .addColumn('duration_ms', 'integer')
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('response_status_code', 'integer')
        .addColumn('request_payload', 'jsonb')
        .addColumn('response_payload', 'text')
        .addColumn('trace_id', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute()
      // newest first = pk descending; each filter of the logs API has an index ending in the pk
      await sql`create index tb_observer_log_observer on ${t('tb_observer_log')} (observer_id, pk_observer_log)`.execute(db)
      await sql`create index tb_observer_log_status on ${t('tb_observer_log')} (status, pk_observer_log)`.execute(db)
      await sql`create index tb_observer_log_event on ${t('tb_observer_log')} (event_id)`.execute(db)
      await sql`create index tb_observer_log_entity on ${t('tb_observer_log')} (entity_type, entity_id, pk_observer_log)`.execute(db)
      await sql`create index tb_observer_log_trace on ${t('tb_observer_log')} (trace_id) where trace_id is not null`.execute(db)
      await sql`create index tb_observer_log_created on ${t('tb_observer_log')} (created_at)`.execute(db)

      await d.createTable('observer_checkpoints')
        .addColumn('listener_id', 'text', (c) => c.primaryKey())
        .addColumn('last_txid', sql`xid8`, (c) => c.notNull().defaultTo(sql`'0'::xid8`))
        .addColumn('last_change_log_id', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('event_count', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('error_count', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute()

      // rows delivered beyond a stuck horizon, so the fast path skips them when it gets there
      await d.createTable('tb_change_log_ahead')
        .addColumn('listener_id', 'text', (c) => c.notNull())
        .addColumn('change_log_id', 'bigint', (c) => c.notNull())
        .addColumn('txid', sql`xid8`, (c) => c.notNull())
        .addPrimaryKeyConstraint('tb_change_log_ahead_pk', ['listener_id', 'change_log_id'])
        .execute()

      await d.createTable('tb_observer_retry')
        .addColumn('pk_observer_retry', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('observer_id', 'uuid', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('change_log_id', 'bigint')
        .addColumn('action_index', 'integer', (c) => c.notNull())
        .addColumn('event', 'jsonb', (c) => c.notNull())
        .addColumn('attempt_number', 'integer', (c) => c.notNull())
        .addColumn('first_failed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('due_at', 'timestamptz', (c) => c.notNull())
        .addColumn('claimed_until', 'timestamptz')
        .addColumn('last_error', 'text')
        .addUniqueConstraint('tb_observer_retry_action', ['event_id', 'observer_id', 'action_index'])
        .execute()
      await sql`create index tb_observer_retry_due on ${t('tb_observer_retry')} (due_at)`.execute(db)

      await d.createTable('tb_observer_dead_letter')
        .addColumn('pk_observer_dead_letter', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        .addColumn('id', 'uuid', (c) => c.notNull().unique().defaultTo(sql`gen_random_uuid()`))
        .addColumn('observer_id', 'uuid', (c) => c.notNull())
        .addColumn('observer_name', 'text', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('change_log_id', 'bigint')
        .addColumn('entity_type', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text')
        .addColumn('action_index', 'integer', (c) => c.notNull())
        .addColumn('action_type', 'text', (c) => c.notNull())
        .addColumn('event', 'jsonb', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('first_failed_at', 'timestamptz', (c) => c.notNull())
        .addColumn('last_failed_at', 'timestamptz', (c) => c.notNull())
        .addColumn('retry_claimed_until', 'timestamptz')
        .addUniqueConstraint('tb_observer_dead_letter_action', ['event_id', 'observer_id', 'action_index'])
        .execute()
      await sql`create index tb_observer_dead_letter_observer on ${t('tb_observer_dead_letter')} (observer_id, pk_observer_dead_letter)`.execute(db)
      await sql`create index tb_observer_dead_letter_type on ${t('tb_observer_dead_letter')} (action_type, pk_observer_dead_letter)`.execute(db)

      // Capture trigger: attach with `after insert or update or delete ... for each row execute
      // function <schema>.capture_change('entity_type', 'id_column')`. The key is read from the row's
      // JSON, so any key type works. Tenant, user and trace come from the transaction's settings
      // `observers.tenant_id`, `observers.user_id`, `observers.trace_id` when the application sets them.
      await sql`
        create or replace function ${t('capture_change')}() returns trigger
        language plpgsql set search_path = ${s}, pg_catalog as $fn$
        declare
          after_image jsonb;
          before_image jsonb;
          fields text[];
          id_column text := coalesce(nullif(TG_ARGV[1], ''), 'id');
        begin
          if TG_OP in ('INSERT', 'UPDATE') then after_image := to_jsonb(NEW); end if;
          if TG_OP in ('UPDATE', 'DELETE') then before_image := to_jsonb(OLD); end if;
          if TG_OP = 'UPDATE' then
            select coalesce(array_agg(k order by k), '{}') into fields
              from (select coalesce(a.key, b.key) as k
                      from jsonb_each(after_image) a
                      full join jsonb_each(before_image) b on a.key = b.key
                     where a.value is distinct from b.value) changed;
          end if;
          insert into tb_entity_change_log
            (object_type, object_id, modification_type, object_data, object_data_before, updated_fields, tenant_id, user_id, trace_id)
          values (
            coalesce(nullif(TG_ARGV[0], ''), TG_TABLE_NAME),
            coalesce(after_image, before_image) ->> id_column,
            TG_OP, after_image, before_image, fields,
            nullif(current_setting('observers.tenant_id', true), ''),
            nullif(current_setting('observers.user_id', true), ''),
            nullif(current_setting('observers.trace_id', true), ''));
          return null;
        end
        $fn$`.execute(db)

      // Wake-ups: one NOTIFY per statement (cheap under bulk inserts), delivered at commit.
      await sql`
        create or replace function ${t('notify_change')}() returns trigger
        language plpgsql as $fn$
        begin
          perform pg_notify(TG_TABLE_SCHEMA || '_' || TG_ARGV[0], '');
          return null;
        end
        $fn$`.execute(db)
      await sql`create trigger notify_changes after insert on ${t('tb_entity_change_log')}
        for each statement execute function ${t('notify_change')}('changes')`.execute(db)
      await sql`create trigger notify_observers after insert or update or delete on ${t('tb_observer')}
        for each statement execute function ${t('notify_change')}('observers')`.execute(db)
    },

    async down (db: Kysely<any>) {
      await sql`drop schema if exists ${s} cascade`.execute(db)
    }
  }
}
