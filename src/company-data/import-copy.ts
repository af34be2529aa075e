/**
 * Importing a CSV or NDJSON file at the speed of COPY: each record is judged as it streams in
 * (rows-fast.ts, the row schemas by hand), copied into a temporary staging table with the
 * values it stores, and the staging is upserted with one INSERT … SELECT, all in one
 * transaction. The foreign key finds unknown customers, the primary key ids given twice.
 *
 * A file with anything wrong (a bad row, an unknown customer) is read back from the staging, in
 * line order, through the zod path of import.ts: its 400 names line and field exactly as
 * before, and nothing is written. Only bad files pay for that.
 */
import type { Readable } from "node:stream";
import type { Database } from "../storage/database.ts";
import { copySource, type FileFormat } from "./copy-source.ts";
import { type ImportResult, importRecordsIn, type SourceRecord } from "./import.ts";
import type { ImportKind } from "./rows.ts";
import {
  anyRowSql,
  createStagingSql,
  missingCustomerSql,
  STAGING,
  stagingColumns,
  writeSql,
} from "./rows-sql.ts";
import { markUsageChanged, raiseSessionBound } from "./store.ts";

export type { FileFormat };

/** How the last file was imported, for tests: by SQL, or read back through zod. */
export let lastImportPath: "sql" | "zod" | undefined;

const FOREIGN_KEY_VIOLATION = "23503";
const UNIQUE_VIOLATION = "23505"; // a plain insert meeting an id twice
const CARDINALITY_VIOLATION = "21000"; // ON CONFLICT meeting an id twice

export async function importFile(
  database: Database,
  workspaceId: string,
  kind: ImportKind,
  format: FileFormat,
  input: Readable,
  onProgress?: (rows: number) => void,
): Promise<ImportResult> {
  return database.transaction(async (tx) => {
    await tx.query(createStagingSql(kind));
    const staging = copySource(kind, format, input);
    await tx.copyFrom(STAGING, stagingColumns(kind), staging.text);
    const { rows, raw, longest } = staging.counts;
    if (raw === 0 && (await write(tx, workspaceId, kind, longest))) {
      lastImportPath = "sql";
      onProgress?.(rows);
      return { kind, rows };
    }
    lastImportPath = "zod";
    return importRecordsIn(tx, workspaceId, kind, stagedRecords(tx, kind), onProgress);
  });
}

/** Writes the staging; false, having written nothing, when a row names an unknown customer. */
async function write(tx: Database, workspaceId: string, kind: ImportKind, longest: number): Promise<boolean> {
  const [first] = await tx.query<{ any: boolean }>(anyRowSql(kind), [workspaceId]);
  // Each mode fails (and is undone) on what the next one handles; see writeSql.
  const modes = first!.any ? (["upsert", "distinct"] as const) : (["insert", "upsert", "distinct"] as const);
  for (const mode of modes) {
    // An id given twice: the foreign key sees only the last line's customer, zod's path all.
    if (mode === "distinct" && kind !== "customers") {
      const [unknown] = await tx.query<{ missing: boolean }>(missingCustomerSql, [workspaceId]);
      if (unknown!.missing) return false;
    }
    await tx.query("savepoint import_write");
    try {
      const [written] = await tx.query<{ longest?: number | null }>(writeSql(kind, mode), [workspaceId]);
      await tx.query("release savepoint import_write");
      if (mode === "distinct") longest = written?.longest ?? -1;
      await raiseSessionBound(tx, workspaceId, longest);
      if (kind !== "customers") await markUsageChanged(tx, workspaceId);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== FOREIGN_KEY_VIOLATION && code !== UNIQUE_VIOLATION && code !== CARDINALITY_VIOLATION)
        throw err;
      await tx.query("rollback to savepoint import_write");
      if (code === FOREIGN_KEY_VIOLATION) return false;
    }
  }
  throw new Error("unreachable: a distinct upsert meets no id twice");
}

/** A stored value as the row schema reads it. */
const asInput = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === "bigint" ? Number(v) : v);

/**
 * The staged records in line order, as the zod path reads a file: a bad one as it came, a good
 * one as the values it stores (which the schema reads back to the same values).
 */
async function* stagedRecords(tx: Database, kind: ImportKind): AsyncGenerator<SourceRecord> {
  const columns = stagingColumns(kind).slice(2);
  await tx.query(`declare import_staged no scroll cursor for select * from ${STAGING} order by line`);
  try {
    for (;;) {
      const rows = await tx.query<Record<string, unknown>>("fetch 5000 from import_staged");
      if (rows.length === 0) return;
      for (const row of rows) {
        let record: Record<string, unknown>;
        if (row.raw !== null) record = JSON.parse(row.raw as string);
        else {
          record = {};
          for (const c of columns) if (row[c] !== null) record[c] = asInput(row[c]);
        }
        yield { line: row.line as number, record };
      }
    }
  } finally {
    await tx.query("close import_staged").catch(() => {});
  }
}
