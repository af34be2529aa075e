/**
 * An uploaded CSV or NDJSON file as COPY text for the import's staging table (rows-sql.ts):
 * each record's line, then the values it stores (rows-fast.ts). A record that is not valid, or
 * that only zod can judge, is staged whole as JSON in `raw` and counted, for zod to word its
 * errors.
 */
import type { Readable } from "node:stream";
import { copyField } from "../storage/database.ts";
import { csvRecords, ndjsonRecords, type SourceRecord } from "./import.ts";
import type { ImportKind } from "./rows.ts";
import { fastRow, storedColumns } from "./rows-fast.ts";

export type FileFormat = "csv" | "ndjson";

/** COPY text is handed on in pieces of about this many characters. */
const PIECE = 64 * 1024;

export interface Staging {
  /** COPY text for `stagingColumns(kind)` */
  text: AsyncIterable<string>;
  /**
   * once `text` is read: records staged, how many of them only zod can judge, and the longest
   * closed session (ms; -1 for none)
   */
  counts: { rows: number; raw: number; longest: number };
}

/** The file as staging text. A CSV that cannot be parsed throws its 400 as the zod path does. */
export function copySource(kind: ImportKind, format: FileFormat, input: Readable): Staging {
  const counts = { rows: 0, raw: 0, longest: -1 };
  const columns = storedColumns(kind);
  const nulls = "\t\\N".repeat(columns.length);
  const [start, end] =
    kind === "sessions" ? [columns.indexOf("started_at"), columns.indexOf("ended_at")] : [];
  const stage = ({ line, record }: SourceRecord, raw: () => string) => {
    counts.rows++;
    const values = fastRow(kind, record);
    if (values) {
      if (end !== undefined && values[end] !== null) {
        const ms = Date.parse(values[end]!) - Date.parse(values[start!]!);
        if (ms > counts.longest) counts.longest = ms;
      }
      return `${line}\t\\N\t${values.map(copyField).join("\t")}\n`;
    }
    counts.raw++;
    return `${line}\t${copyField(raw())}${nulls}\n`;
  };
  async function* text() {
    let piece = "";
    const records: AsyncIterable<SourceRecord & { text?: string }> =
      format === "csv" ? csvRecords(input) : ndjsonRecords(input);
    for await (const r of records) {
      // NDJSON's raw is its own line (JSON again would turn 1e400 into null), or JSON of the
      // mark an invalid line gets: JSON text, so a NUL in the line is escaped.
      const raw = () =>
        r.text !== undefined && !(r.record as { __invalid_json__?: string })?.__invalid_json__
          ? r.text
          : JSON.stringify(r.record);
      piece += stage(r, raw);
      if (piece.length >= PIECE) {
        yield piece;
        piece = "";
      }
    }
    if (piece) yield piece;
  }
  return { text: text(), counts };
}
