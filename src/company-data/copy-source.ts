/**
 * An uploaded CSV or NDJSON file as COPY text for the import's staging table (rows-sql.ts):
 * per record its line, then each field as the string the file gave. A record SQL cannot judge
 * from strings alone (an unknown column, a JSON number where text belongs, a NUL, channels zod
 * refuses) is staged whole as JSON in `raw`, for the zod schema to word its errors.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { copyField } from "../storage/database.ts";
import { csvRecords } from "./import.ts";
import { ChannelsIn, type ImportKind } from "./rows.ts";
import { BLANKABLE, FIELDS, type FieldType, MINOR } from "./rows-sql.ts";

export type FileFormat = "csv" | "ndjson";

/** COPY text is handed on in pieces of about this many characters. */
const PIECE = 64 * 1024;

/** Why a record goes whole to zod. */
const RAW = Symbol("raw");

/** A string as staged, or RAW; channels are checked here and staged as canonical JSON. */
function cell(type: FieldType, v: unknown): string | typeof RAW {
  if (type === "channels") {
    const parsed = ChannelsIn.safeParse(v);
    if (!parsed.success) return RAW;
    if (parsed.data === undefined) return "";
    const json = JSON.stringify(parsed.data);
    return json.includes("\\u0000") ? RAW : json;
  }
  if (typeof v === "string") return v.includes("\0") ? RAW : v;
  // Other JSON values only where zod reads them exactly as it reads this text.
  if (v === null) return BLANKABLE(type) ? "" : RAW;
  if (typeof v === "number") return MINOR(type) && Number.isSafeInteger(v) && v >= 0 ? String(v) : RAW;
  if (typeof v === "boolean") return type === "flag" ? String(v) : RAW;
  return RAW;
}

/** One staging line; `raw` is the record as JSON text when it cannot be staged field by field. */
function stage(line: number, record: unknown, raw: () => string, kind: ImportKind): string {
  const types = FIELDS[kind];
  const fields = Object.keys(types);
  const cells: (string | null)[] = new Array(fields.length).fill(null);
  let ok = record !== null && typeof record === "object" && !Array.isArray(record);
  if (ok) {
    const r = record as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      const type = Object.hasOwn(types, key) ? types[key] : undefined;
      const c = type === undefined ? RAW : cell(type, r[key]);
      if (c === RAW) {
        ok = false;
        break;
      }
      cells[fields.indexOf(key)] = c;
    }
  }
  if (!ok) return `${line}\t${copyField(raw())}${"\t\\N".repeat(fields.length)}\n`;
  let text = `${line}\t\\N`;
  for (const c of cells) text += `\t${copyField(c)}`;
  return `${text}\n`;
}

async function* pieces(lines: AsyncIterable<string>): AsyncGenerator<string> {
  let text = "";
  for await (const line of lines) {
    text += line;
    if (text.length >= PIECE) {
      yield text;
      text = "";
    }
  }
  if (text) yield text;
}

async function* csvLines(input: Readable, kind: ImportKind): AsyncGenerator<string> {
  for await (const { line, record } of csvRecords(input))
    yield stage(line, record, () => JSON.stringify(record), kind);
}

async function* ndjsonLines(input: Readable, kind: ImportKind): AsyncGenerator<string> {
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (!text.trim()) continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      // As ndjsonRecords marks it; JSON text, so a NUL in the line is escaped.
      const invalid = JSON.stringify({ __invalid_json__: (err as Error).message });
      yield stage(line, null, () => invalid, kind);
      continue;
    }
    yield stage(line, record, () => text, kind);
  }
}

/** The file as COPY text for `stagingColumns(kind)`. A CSV that cannot be parsed throws its 400. */
export function copySource(kind: ImportKind, format: FileFormat, input: Readable): AsyncIterable<string> {
  return pieces(format === "csv" ? csvLines(input, kind) : ndjsonLines(input, kind));
}
