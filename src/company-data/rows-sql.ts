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

/** Whether workspace $1 has any row of the kind yet. */
export const anyRowSql = (kind: ImportKind) =>
  `select exists (select from ${TABLES[kind]} where workspace_id = $1) as any`;

/**
 * Writing the staging (all of it valid) into the kind's table for workspace $1, as store.ts
 * upserts. "insert" is for a workspace with none of the kind yet: no ON CONFLICT, whose
 * speculative insertion costs more than the plain one; an id given twice then fails it.
 * "upsert" fails on an id given twice too (one statement cannot update a row twice);
 * "distinct" keeps each id's last line, at the cost of a sort, and returns the longest closed
 * session written (usage_bounds), as store.ts reckons it.
 */
export function writeSql(kind: ImportKind, mode: "insert" | "upsert" | "distinct"): string {
  const columns = storedColumns(kind);
  const stamp = kind === "customers" ? ", updated_at" : "";
  const updates = columns
    .filter((c) => c !== "id")
    .map((c) => `${c} = excluded.${c}`)
    .concat(kind === "customers" ? ["updated_at = now()"] : []);
  const rows =
    mode === "distinct" ? `(select distinct on (id) * from ${STAGING} order by id, line desc) s` : STAGING;
  const insert = `insert into ${TABLES[kind]} (workspace_id, ${columns.join(", ")}${stamp})
    select $1, ${columns.join(", ")}${kind === "customers" ? ", now()" : ""} from ${rows}
    ${mode === "insert" ? "" : `on conflict (workspace_id, id) do update set ${updates.join(", ")}`}`;
  return kind !== "sessions" || mode !== "distinct"
    ? insert
    : `with written as (${insert} returning started_at, ended_at)
      select (max(extract(epoch from ended_at - started_at)) * 1000)::float8 as longest from written`;
}
