/**
 * The bulk import (rows judged by rows-fast.ts, COPY into a staging table, one upsert) against the zod path it
 * replaces for CSV and NDJSON: the same rows stored, the same errors, nothing written on any.
 */
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvRecords, importRecords, ndjsonRecords } from "../src/company-data/import.ts";
import { type FileFormat, importFile, lastImportPath } from "../src/company-data/import-copy.ts";
import { IMPORT_KINDS, type ImportKind } from "../src/company-data/rows.ts";
import { AmendsError } from "../src/core/errors.ts";
import type { Database } from "../src/storage/database.ts";
import { createWorkspace } from "../src/workspaces/store.ts";
import { BACKENDS, freshDatabase } from "./support/backends.ts";

const TABLES: Record<ImportKind, string> = {
  customers: "customers",
  sessions: "usage_sessions",
  charges: "charges",
};
const CUSTOMERS = ["c1", "c2", "c3"];

const quote = (v: string) => `"${v.replaceAll('"', '""')}"`;
function toCsv(rows: Record<string, unknown>[]): string {
  const header = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = rows.map((r) => header.map((h) => (h in r ? quote(String(r[h])) : "")).join(","));
  return `${header.join(",")}\n${lines.join("\n")}\n`;
}
const toNdjson = (rows: unknown[]) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;

type Outcome = { rows: number } | { errors: { field: string; line?: number; message: string }[] };

async function outcome(run: () => Promise<{ rows: number }>): Promise<Outcome> {
  try {
    return { rows: (await run()).rows };
  } catch (err) {
    if (!(err instanceof AmendsError)) throw err;
    expect(err.status).toBe(400);
    return { errors: err.fields.map((f) => ({ field: f.field, line: f.line, message: f.message })) };
  }
}

async function stored(database: Database, kind: ImportKind, workspaceId: string) {
  const rows = await database.query<Record<string, unknown>>(
    `select * from ${TABLES[kind]} where workspace_id = $1 order by id`,
    [workspaceId],
  );
  return rows.map(({ workspace_id, updated_at, ...r }) => r);
}

let workspaces = 0;
async function workspace(database: Database) {
  const ws = (await createWorkspace(database.db, { slug: `w${++workspaces}`, name: "W" })).id;
  const customers = CUSTOMERS.map((id) => ({ id, currency: "EUR" }));
  await importRecords(
    database,
    ws,
    "customers",
    (async function* () {
      for (const [i, record] of customers.entries()) yield { line: i + 1, record };
    })(),
  );
  return ws;
}

/** The file through both paths, each into a workspace of its own: outcomes and stored rows. */
async function both(database: Database, kind: ImportKind, format: FileFormat, text: string) {
  const [copyWs, zodWs] = [await workspace(database), await workspace(database)];
  const copy = await outcome(() => importFile(database, copyWs, kind, format, Readable.from([text])));
  const path = lastImportPath;
  const records = format === "csv" ? csvRecords(Readable.from([text])) : ndjsonRecords(Readable.from([text]));
  const zod = await outcome(() => importRecords(database, zodWs, kind, records));
  return {
    copy,
    zod,
    path,
    copyRows: await stored(database, kind, copyWs),
    zodRows: await stored(database, kind, zodWs),
    bounds: await database.query(
      "select workspace_id = $1 as copy, longest_session_ms from usage_bounds where workspace_id in ($1, $2) order by 1",
      [copyWs, zodWs],
    ),
  };
}

// Cells people send, good and bad; none of them one the SQL leaves to zod when zod accepts it.
const long = (n: number) => "x".repeat(n);
const INSTANTS = [
  "2025-01-15T10:00:00Z",
  "2025-01-15T11:00:00.123456Z",
  "2025-01-15T12:30:00+02:00",
  "2024-02-29T00:00:00Z",
  "2025-02-29T00:00:00Z",
  "2025-01-15 10:00:00Z",
  "2025-01-15T10:00Z",
  "0000-06-01T00:00:00Z",
  "0001-01-01T00:00:00+01:00",
  "9999-12-31T23:59:59.9999Z",
  "2025-01-15T10:00:00z",
  "garbage",
];
const MINORS = [
  "0",
  "100",
  " 42 ",
  "-0",
  "-5",
  "1.5",
  "9007199254740991",
  "9007199254740992",
  "abc",
  "007",
  "  ",
];
const CELLS: Record<string, string[]> = {
  id: ["s1", "s2", " s1 ", "a.b:c-d_e", "bad id", long(64), long(65), "\u00a0s3\u00a0", "é1"],
  customer_id: ["c1", "c2", " c3 ", "zz", "bad id"],
  kind: ["rental", " rental ", "  ", long(64), long(65)],
  component_id: ["rentals-milan", "bad id", " x "],
  region: ["milan", "  ", long(64), long(65), "città"],
  started_at: INSTANTS,
  ended_at: INSTANTS,
  created_at: INSTANTS,
  charge: MINORS,
  refunded: MINORS,
  amount: MINORS,
  amount_refunded: MINORS,
  monthly_fee: MINORS,
  currency: ["EUR", "eur", " usd ", "EURO", "E1R"],
  status: ["succeeded", "pending", " pending", "SUCCEEDED"],
  invoice_id: ["  ", "in_1", long(255), long(256)],
  usage_ref: ["s1", "bad ref"],
  name: ["Ann", "  ", long(200), long(201), "Zoë"],
  home_region: ["milan", long(65)],
  plan: ["basic", "  "],
  locale: ["it", "en-GB", "EN", " it"],
  email: ["a@example.com", "bad", "a..b@example.com", " a@example.com", "o'neil+x@mail.example.org"],
  phone: ["+39 347 1234567", "347", "+1(555)000-0000"],
  channels: [
    "[]",
    '[{"type":"email","address":"x@y.z"}]',
    '[{"type":"fax","address":"1"}]',
    "not json",
    '{"type":"email"}',
    "  ",
  ],
  sms_entitled: ["yes", "NO", " true ", "1", "maybe"],
  stripe_customer_id: ["cus_123", "cus_", "acct_1"],
};
// NDJSON may carry other JSON values.
const JSON_VALUES: unknown[] = [
  5,
  0,
  -0,
  1.5,
  -1,
  1e20,
  null,
  true,
  false,
  [1],
  { a: 1 },
  [{ type: "sms", address: "+1" }],
];

/** Cells each field's schema accepts (refunds kept within charges, ends after starts). */
const VALID: Record<string, string[]> = {
  ...Object.fromEntries(
    Object.entries(CELLS).map(([field, cells]) => [
      field,
      cells.filter((v) => {
        for (const schema of Object.values(IMPORT_KINDS)) {
          const f = (schema.in.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>)[
            field
          ];
          if (f) return f.safeParse(v).success;
        }
        return false;
      }),
    ]),
  ),
  started_at: ["2025-01-15T10:00:00Z", "2024-02-29T00:00:00Z", "0001-01-01T00:00:00Z"],
  ended_at: ["", "2025-01-15T11:00:00.123456Z", "2025-01-15T12:30:00+02:00", "9999-12-31T23:59:59.9999Z"],
  customer_id: ["c1", "c2", " c3 "],
  refunded: ["0", "-0", ""],
  amount_refunded: ["0", "-0", ""],
};

const cellOf = (field: string, json: boolean): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...(CELLS[field] ?? ["x"]), "") },
    { weight: json ? 2 : 0, arbitrary: fc.constantFrom(...JSON_VALUES) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
    { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String) },
  );

/** Rows of valid cells, one in eleven with one cell (or column) anything at all. */
const rowsOf = (kind: ImportKind, json: boolean) => {
  const fields = Object.keys(IMPORT_KINDS[kind].in.shape);
  const required = ["id", "customer_id", "kind", "started_at", "currency", "amount", "status", "created_at"];
  const valid: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(
    fields.map((f) => [f, fc.constantFrom(...VALID[f]!)]),
  );
  const good = fc.record(valid, { requiredKeys: fields.filter((f) => required.includes(f)) });
  const mutation = fc
    .constantFrom(...fields, "emial")
    .chain((f) => cellOf(f, json).map((v) => [f, v] as const));
  const row = fc
    .tuple(good, fc.oneof({ weight: 10, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: mutation }))
    .map(([r, m]) => (m ? { ...r, [m[0]]: m[1] } : r) as Record<string, unknown>);
  return fc.array(row, { minLength: 1, maxLength: 12 });
};

const KINDS = Object.keys(IMPORT_KINDS) as ImportKind[];

describe.each(BACKENDS)("the bulk import on %s", (backend) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(backend);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("imports a good CSV and NDJSON by SQL, later lines winning, as the zod path does", async () => {
    const csv =
      "id,customer_id,kind,started_at,ended_at,charge,currency\n" +
      "s1,c1,rental,2025-01-15T10:00:00Z,2025-01-15T11:00:00.5Z,100,eur\n" +
      "s2,c2,rental,2025-01-15T10:00:00Z,,0,EUR\n" +
      "s1,c2,rental,2025-01-15T10:00:00Z,2025-01-15T12:00:00Z,200,EUR\n";
    const r = await both(database, "sessions", "csv", csv);
    expect(r.path).toBe("sql");
    expect(r.copy).toEqual({ rows: 3 });
    expect(r.copy).toEqual(r.zod);
    expect(r.copyRows).toEqual(r.zodRows);
    expect(r.copyRows.map((s) => [s.id, s.customer_id, s.charge])).toEqual([
      ["s1", "c2", 200],
      ["s2", "c2", 0],
    ]);
    expect(r.bounds.map((b) => b.longest_session_ms)).toEqual([7_200_000, 7_200_000]);

    const ndjson = toNdjson([
      {
        id: "h1",
        channels: [{ type: "sms", address: "+39 1" }],
        sms_entitled: true,
        monthly_fee: 1000,
        currency: "eur",
      },
      { id: "h2", email: "h2@example.com", phone: "+39 347 1234567", locale: null },
    ]);
    const c = await both(database, "customers", "ndjson", `\n${ndjson}\n`);
    expect(c.path).toBe("sql");
    expect(c.copy).toEqual({ rows: 2 });
    expect(c.copyRows).toEqual(c.zodRows);
  });

  it("refuses a bad file by line and field, writing nothing", async () => {
    const csv =
      "id,customer_id,kind,started_at,charge,currency\n" +
      "s1,c1,rental,2025-01-15T10:00:00Z,100,EUR\n" +
      "s2,c1,rental,2025-01-15T10:00:00Z,1.5,EURO\n";
    const r = await both(database, "sessions", "csv", csv);
    expect(r.path).toBe("zod");
    expect(r.copy).toEqual(r.zod);
    expect(r.copy).toMatchObject({
      errors: [
        { field: "charge", line: 3 },
        { field: "currency", line: 3 },
      ],
    });
    expect(r.copyRows).toEqual([]);

    const unknown = await both(
      database,
      "sessions",
      "ndjson",
      `{"id":"s1","customer_id":"nobody","kind":"k","started_at":"2025-01-15T10:00:00Z","currency":"EUR"}\n{`,
    );
    expect(unknown.copy).toEqual(unknown.zod);
    expect(unknown.copy).toMatchObject({ errors: [{ field: "line", line: 2 }] });

    const missing = await both(
      database,
      "charges",
      "csv",
      "id,customer_id,amount,currency,status,created_at\nx1,nobody,1,EUR,pending,2025-01-01T00:00:00Z\n",
    );
    expect(missing.copy).toEqual(missing.zod);
    expect(missing.copy).toMatchObject({ errors: [{ field: "customer_id", line: 2 }] });
    expect(missing.copyRows).toEqual([]);

    const ragged = await both(database, "customers", "csv", "id,name\nc9,a\nc10,b,extra\n");
    expect(ragged.copy).toEqual(ragged.zod);
    expect(ragged.copyRows.map((c) => c.id)).toEqual(CUSTOMERS);

    // PostgreSQL stores no NUL, nor half a surrogate pair in jsonb: a 400, not a 500.
    const nul = await both(
      database,
      "customers",
      "ndjson",
      '{"id":"c\\u00003"}\n{"id":"c4","name":"a\\u0000b"}\n{"id":"c5","channels":[{"type":"sms","address":"\\ud800"}]}\n',
    );
    expect(nul.copy).toEqual(nul.zod);
    expect(nul.copy).toMatchObject({
      errors: [
        { field: "id", line: 1 },
        { field: "name", line: 2 },
        { field: "channels.0.address", line: 3 },
      ],
    });
  });

  for (const kind of KINDS) {
    for (const format of ["csv", "ndjson"] as const) {
      it(`stores and refuses ${kind} in ${format} exactly as the zod path`, async () => {
        await fc.assert(
          fc.asyncProperty(rowsOf(kind, format === "ndjson"), async (rows) => {
            const text = format === "csv" ? toCsv(rows) : toNdjson(rows);
            const r = await both(database, kind, format, text);
            expect(r.copy).toEqual(r.zod);
            expect(r.copyRows).toEqual(r.zodRows);
            expect(r.bounds.map((b) => b.longest_session_ms)).toEqual(
              r.bounds.length === 2 ? [r.bounds[0]!.longest_session_ms, r.bounds[0]!.longest_session_ms] : [],
            );
            // The fast checks refuse no file zod accepts.
            if ("rows" in r.zod) expect(r.path).toBe("sql");
          }),
          { numRuns: backend === "pglite" ? 60 : 40 },
        );
      }, 120_000);
    }
  }
});
