/**
 * The bulk import's SQL: a temporary staging table holding each record's line, the record
 * itself (JSON) when only zod can judge it, and the values it stores, typed as the table
 * stores them; then one upsert from it, as store.ts upserts (idempotent by id).
 */
import type { ImportKind } from "./rows.ts";
import { storedColumns, storedTypes } from "./rows-fast.ts";

export const STAGING = "import_staging";

const TABLES: Record<ImportKind, string> = {
  customers: "customers",
  sessions: "usage_sessions",
  charges: "charges",
};

export const stagingColumns = (kind: ImportKind) => ["line", "raw", ...storedColumns(kind)];

export function createStagingSql(kind: ImportKind): string {
  const types = storedTypes(kind);
  const columns = storedColumns(kind).map((c, i) => `${c} ${types[i]}`);
  return `create temp table ${STAGING} (line integer not null, raw text, ${columns.join(", ")}) on commit drop`;
}

/** Whether a staged session or charge names a customer workspace $1 does not have. */
export const missingCustomerSql = `select exists (select from ${STAGING} s where not exists (
    select from customers c where c.workspace_id = $1 and c.id = s.customer_id)) as missing`;

/**
 * Upserts the staging (all of it valid) into the kind's table for workspace $1. `distinct`
 * keeps the last line of an id given twice, which one statement could not upsert twice; it
 * costs a sort, so it is only asked for when a plain attempt meets such an id.
 */
export function upsertSql(kind: ImportKind, distinct: boolean): string {
  const columns = storedColumns(kind);
  const stamp = kind === "customers" ? ", updated_at" : "";
  const updates = columns
    .filter((c) => c !== "id")
    .map((c) => `${c} = excluded.${c}`)
    .concat(kind === "customers" ? ["updated_at = now()"] : []);
  const rows = distinct ? `(select distinct on (id) * from ${STAGING} order by id, line desc) s` : STAGING;
  const insert = `insert into ${TABLES[kind]} (workspace_id, ${columns.join(", ")}${stamp})
    select $1, ${columns.join(", ")}${kind === "customers" ? ", now()" : ""} from ${rows}
    on conflict (workspace_id, id) do update set ${updates.join(", ")}`;
  // The longest closed session written, for usage_bounds, as store.ts reckons it.
  return kind !== "sessions"
    ? insert
    : `with written as (${insert} returning started_at, ended_at)
      select (max(extract(epoch from ended_at - started_at)) * 1000)::float8 as longest from written`;
}
