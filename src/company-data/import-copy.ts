/**
 * Importing a CSV or NDJSON file at the speed of COPY: the file is copied into a temporary
 * staging table of text, judged there by the row schemas written in SQL (rows-sql.ts), and
 * upserted with one INSERT … SELECT, all in one transaction.
 *
 * A file the SQL finds anything wrong with (a bad row, an unknown customer) is read back from
 * the staging, in line order, through the zod path of import.ts: its 400 names line and field
 * exactly as before, and nothing is written. Only bad files pay for that.
 */
import type { Readable } from "node:stream";
import type { Database } from "../storage/database.ts";
import { copySource, type FileFormat } from "./copy-source.ts";
import { type ImportResult, importRecordsIn, type SourceRecord } from "./import.ts";
import type { ImportKind } from "./rows.ts";
import {
  checkSql,
  createStagingSql,
  missingCustomerSql,
  STAGING,
  stagingColumns,
  upsertSql,
} from "./rows-sql.ts";

export type { FileFormat };

/** How the last file was imported, for tests: by SQL, or read back through zod. */
export let lastImportPath: "sql" | "zod" | undefined;

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
    await tx.copyFrom(STAGING, stagingColumns(kind), copySource(kind, format, input));
    const [check] = await tx.query<{ rows: number; bad: boolean }>(checkSql(kind));
    const missing =
      !check!.bad &&
      kind !== "customers" &&
      (await tx.query<{ missing: boolean }>(missingCustomerSql, [workspaceId]))[0]!.missing;
    if (check!.bad || missing) {
      lastImportPath = "zod";
      return importRecordsIn(tx, workspaceId, kind, stagedRecords(tx, kind), onProgress);
    }
    lastImportPath = "sql";
    const [written] = await tx.query<{ longest: number | null }>(upsertSql(kind), [workspaceId]);
    if (written?.longest != null) await raiseSessionBound(tx, workspaceId, written.longest);
    onProgress?.(check!.rows);
    return { kind, rows: check!.rows };
  });
}

/** As store.ts keeps usage_bounds: at least the longest closed session ever imported. */
async function raiseSessionBound(tx: Database, workspaceId: string, longest: number) {
  await tx.query(
    `insert into usage_bounds (workspace_id, longest_session_ms)
     select $1, $2 where not exists (select from usage_bounds where workspace_id = $1 and longest_session_ms >= $2)
     on conflict (workspace_id) do update set longest_session_ms = greatest(usage_bounds.longest_session_ms, excluded.longest_session_ms)`,
    [workspaceId, longest],
  );
}

/** The staged records in line order, as the zod path reads a file. */
async function* stagedRecords(tx: Database, kind: ImportKind): AsyncGenerator<SourceRecord> {
  const fields = stagingColumns(kind).slice(2);
  await tx.query(`declare import_staged no scroll cursor for select * from ${STAGING} order by line`);
  try {
    for (;;) {
      const rows = await tx.query<Record<string, string | number | null>>("fetch 5000 from import_staged");
      if (rows.length === 0) return;
      for (const row of rows) {
        let record: Record<string, unknown>;
        if (row.raw !== null) record = JSON.parse(row.raw as string);
        else {
          record = {};
          for (const f of fields) if (row[f] !== null) record[f] = row[f];
        }
        yield { line: row.line as number, record };
      }
    }
  } finally {
    await tx.query("close import_staged").catch(() => {});
  }
}
