/**
 * Importing company data: records stream in (CSV, NDJSON or JSON), are validated row by row,
 * and written in chunks inside one transaction. A bad row is reported by line and column and
 * the whole import is rolled back: a bad file writes nothing. Memory stays flat whatever the
 * file's size.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { parse as parseCsv } from "csv-parse";
import { AmendsError, type FieldError } from "../core/errors.ts";
import type { Database } from "../storage/database.ts";
import { COLUMN_ALIASES, IMPORT_KINDS, type ImportKind } from "./rows.ts";
import { markUsageChanged, upsertCharges, upsertCustomers, upsertSessions } from "./store.ts";

export interface SourceRecord {
  /** 1-based line in the file (row number for JSON arrays) */
  line: number;
  record: unknown;
}

const CHUNK = 5_000;
const MAX_REPORTED = 100;

const normalizeHeader = (h: string) => {
  const key = h.trim().toLowerCase().replace(/\s+/g, "_");
  return COLUMN_ALIASES[key] ?? key;
};

export async function* csvRecords(input: Readable): AsyncGenerator<SourceRecord> {
  const parser = input.pipe(
    parseCsv({
      columns: (header: string[]) => header.map(normalizeHeader),
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
    }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: unknown;
      info: { lines: number };
    }>) {
      yield { line: info.lines, record };
    }
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new AmendsError("VALIDATION_FAILED", `line ${e.lines ?? "?"}: ${e.message}`, [
      { field: "file", message: e.message, ...(e.lines && { line: e.lines }) },
    ]);
  }
}

/** Each line's text rides along: the bulk import keeps a line it cannot judge as it came. */
export async function* ndjsonRecords(input: Readable): AsyncGenerator<SourceRecord & { text: string }> {
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (!text.trim()) continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      record = { __invalid_json__: (err as Error).message };
    }
    yield { line, record, text };
  }
}

export async function* arrayRecords(rows: readonly unknown[]): AsyncGenerator<SourceRecord> {
  for (let i = 0; i < rows.length; i++) yield { line: i + 1, record: rows[i] };
}

const WRITERS = { customers: upsertCustomers, sessions: upsertSessions, charges: upsertCharges } as const;

/** Customer ids of a chunk that do not exist (the chunk's own customers are already written). */
async function missingCustomers(tx: Database, workspaceId: string, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)];
  const found = await tx.query<{ id: string }>(
    "select id from customers where workspace_id = $1 and id = any($2::text[])",
    [workspaceId, unique],
  );
  const known = new Set(found.map((r) => r.id));
  return new Set(unique.filter((id) => !known.has(id)));
}

export interface ImportResult {
  kind: ImportKind;
  rows: number;
}

export async function importRecords(
  database: Database,
  workspaceId: string,
  kind: ImportKind,
  records: AsyncIterable<SourceRecord>,
  onProgress?: (rows: number) => void,
): Promise<ImportResult> {
  return database.transaction((tx) => importRecordsIn(tx, workspaceId, kind, records, onProgress));
}

/** importRecords inside the caller's transaction, which an error must roll back. */
export async function importRecordsIn(
  tx: Database,
  workspaceId: string,
  kind: ImportKind,
  records: AsyncIterable<SourceRecord>,
  onProgress?: (rows: number) => void,
): Promise<ImportResult> {
  const schema = IMPORT_KINDS[kind];
  const errors: FieldError[] = [];
  let rows = 0;
  {
    type Chunk = { line: number; row: any }[];
    let chunk: Chunk = [];
    const write = async (chunk: Chunk) => {
      if (chunk.length === 0 || errors.length > 0) return;
      if (kind !== "customers") {
        const missing = await missingCustomers(
          tx,
          workspaceId,
          chunk.map((c) => c.row.customerId),
        );
        for (const c of chunk) {
          if (missing.has(c.row.customerId) && errors.length < MAX_REPORTED) {
            errors.push({
              field: "customer_id",
              line: c.line,
              message: `line ${c.line}: no customer "${c.row.customerId}"; import customers first`,
            });
          }
        }
        if (errors.length > 0) return;
      }
      // The same id twice in one statement cannot be upserted; the later row wins, as across chunks.
      const byId = new Map(chunk.map((c) => [c.row.id as string, c.row]));
      await WRITERS[kind](tx, workspaceId, [...byId.values()] as never);
      rows += chunk.length;
      onProgress?.(rows);
    };
    // One chunk is written while the next is parsed and validated; chunks still land in order.
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      await writing;
      writing = write(chunk);
      writing.catch(() => {}); // awaited by the next flush or at the end
      chunk = [];
    };
    for await (const { line, record } of records) {
      if (record && typeof record === "object" && "__invalid_json__" in record) {
        errors.push({
          field: "line",
          line,
          message: `line ${line}: not valid JSON (${(record as { __invalid_json__: string }).__invalid_json__})`,
        });
      } else {
        const parsed = schema.safeParse(record);
        if (parsed.success) chunk.push({ line, row: parsed.data });
        else {
          for (const issue of parsed.error.issues) {
            // A column we do not know is most often a misspelt one: refused, not dropped.
            const unknown = issue.code === "unrecognized_keys" ? issue.keys : [];
            for (const field of unknown) {
              const message = `not a column of ${kind} (they are: ${Object.keys(schema.in.shape).join(", ")})`;
              errors.push({ field, line, message: `line ${line}, ${field}: ${message}` });
            }
            if (unknown.length) continue;
            const field = issue.path.join(".") || "row";
            errors.push({ field, line, message: `line ${line}, ${field}: ${issue.message}` });
          }
          errors.splice(MAX_REPORTED);
        }
      }
      if (errors.length >= MAX_REPORTED) break;
      if (chunk.length >= CHUNK) await flush();
    }
    await flush();
    await writing;
    if (errors.length > 0) {
      throw new AmendsError(
        "VALIDATION_FAILED",
        `${kind}: ${errors.length}${errors.length >= MAX_REPORTED ? "+" : ""} bad row(s), nothing was imported; first: ${errors[0]!.message}`,
        errors,
      );
    }
  }
  if (kind !== "customers" && rows > 0) await markUsageChanged(tx, workspaceId);
  return { kind, rows };
}
