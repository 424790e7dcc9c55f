// The writer's W3C trace context, kept with each change. A transaction sets
// `observers.traceparent` (and `observers.tracestate`) with set_config(..., true); the capture
// trigger stores them, and so do the change log's column defaults for rows an application inserts
// itself. `trace_id` is the traceparent's trace id, else the plain `observers.trace_id`. A
// malformed setting is ignored, never an error: it must not break the application's write.
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Migration } from 'kysely/migration'

export function traceContext (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      // Validation reads each setting once and runs only when the setting is set: checks inlined
      // into a default read the setting once per check (+35 µs per row), and a call per column
      // when nothing is set would tax every bulk insert. A call costs ~5 µs, so the trigger
      // makes one or two. W3C rules: lowercase hex fields of 2, 32, 16 and 2 digits, version ff
      // invalid, version 00 has exactly four fields, ids not all zero. (The regular expression
      // has no bounded repetition: that made it five times slower.)
      await sql`
        create function ${t('traceparent_setting')}() returns text
        language plpgsql stable parallel safe as $fn$
        declare
          h text := current_setting('observers.traceparent', true);
        begin
          if length(h) between 55 and 512
             and h ~ '^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+(-[!-~]*)?$'
             and substr(h, 3, 1) = '-' and substr(h, 36, 1) = '-' and substr(h, 53, 1) = '-'
             and (length(h) = 55 or (left(h, 2) <> '00' and substr(h, 56, 1) = '-'))
             and left(h, 2) <> 'ff'
             and substr(h, 4, 32) <> repeat('0', 32)
             and substr(h, 37, 16) <> repeat('0', 16) then
            return h;
          end if;
          return null;
        end
        $fn$`.execute(db)
      // printable ASCII, as long as receivers keep it; kept only beside a valid traceparent
      await sql`
        create function ${t('tracestate_setting')}() returns text
        language plpgsql stable parallel safe as $fn$
        declare
          v text := current_setting('observers.tracestate', true);
        begin
          if length(v) between 1 and 512 and v ~ '^[ -~]*$' then
            return v;
          end if;
          return null;
        end
        $fn$`.execute(db)
      // rows an application inserts itself take the settings through the defaults
      await sql`alter table ${t('tb_entity_change_log')}
        add column traceparent text default ${whenSet('traceparent', sql`${t('traceparent_setting')}()`)},
        add column tracestate text default ${whenSet('tracestate', sql`case when ${t('traceparent_setting')}() is not null then ${t('tracestate_setting')}() end`)},
        alter column trace_id set default coalesce(${whenSet('traceparent', sql`substr(${t('traceparent_setting')}(), 4, 32)`)},
                                                   nullif(current_setting('observers.trace_id', true), ''))`.execute(db)
      await captureWith(db, schema, 'tenant_id, user_id, trace_id, traceparent, tracestate', `
            nullif(current_setting('observers.tenant_id', true), ''),
            nullif(current_setting('observers.user_id', true), ''),
            coalesce(substr(writer_traceparent, 4, 32), nullif(current_setting('observers.trace_id', true), '')),
            writer_traceparent,
            case when writer_traceparent is not null and current_setting('observers.tracestate', true) <> '' then tracestate_setting() end`,
      'writer_traceparent text := case when current_setting(\'observers.traceparent\', true) <> \'\' then traceparent_setting() end;')
    },

    async down (db: Kysely<any>) {
      // the trigger of migration 001, as it was
      await captureWith(db, schema, 'tenant_id, user_id, trace_id', `
            nullif(current_setting('observers.tenant_id', true), ''),
            nullif(current_setting('observers.user_id', true), ''),
            nullif(current_setting('observers.trace_id', true), '')`)
      await sql`alter table ${t('tb_entity_change_log')}
        drop column traceparent, drop column tracestate, alter column trace_id drop default`.execute(db)
      await sql`drop function ${t('tracestate_setting')}()`.execute(db)
      await sql`drop function ${t('traceparent_setting')}()`.execute(db)
    }
  }
}

const whenSet = (name: string, value: RawBuilder<unknown>): RawBuilder<unknown> =>
  sql`case when current_setting(${sql.lit(`observers.${name}`)}, true) <> '' then ${value} end`

// The capture trigger function of migration 001, writing the settings named in `columns`.
async function captureWith (db: Kysely<any>, schema: string, columns: string, values: string, declarations = ''): Promise<void> {
  await sql`
    create or replace function ${sql.id(schema, 'capture_change')}() returns trigger
    language plpgsql set search_path = ${sql.id(schema)}, pg_catalog as $fn$
    declare
      after_image jsonb;
      before_image jsonb;
      fields text[];
      id_column text := coalesce(nullif(TG_ARGV[1], ''), 'id');
      ${sql.raw(declarations)}
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
        (object_type, object_id, modification_type, object_data, object_data_before, updated_fields, ${sql.raw(columns)})
      values (
        coalesce(nullif(TG_ARGV[0], ''), TG_TABLE_NAME),
        coalesce(after_image, before_image) ->> id_column,
        TG_OP, after_image, before_image, fields,${sql.raw(values)});
      return null;
    end
    $fn$`.execute(db)
}
