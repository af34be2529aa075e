/**
 * Compensation at scale: N rental sessions, ~A of them overlapping one 14-hour outage, imported
 * through the real import path, then preview → approve → apply → re-preview. The preview is timed
 * against hand-written SQL reading the same rows (the floor) and also writing a line each (floor +
 * lines, the target's base: ≤ 1.5×); the apply against hand-written SQL writing the same entries,
 * postings and messages in the same chunks (the apply floor: ≤ 1.5×).
 *
 *   npx tsx bench/compensation.ts --sessions 200000 --affected 20000
 *   npx tsx bench/compensation.ts --sessions 1000000 --import-only
 *   npx tsx bench/compensation.ts --one-import    (one NDJSON import, none beside it)
 *
 * The sessions go in as files through the import (COPY into a staging table, checked in SQL),
 * as CSV and as NDJSON, each timed beside a plain COPY of the same CSV into the same table: the
 * ceiling of any import on this machine.
 *
 * Targets PostgreSQL at BENCH_DATABASE_URL (a fresh database is created and dropped), or a
 * throw-away cluster started like the test suite's. Prints figures; never fails on a target.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { stringify } from "csv-stringify";
import type { SourceRecord } from "../src/company-data/import.ts";
import { type FileFormat, importFile } from "../src/company-data/import-copy.ts";
import { storedColumns } from "../src/company-data/rows-fast.ts";
import { applyRun } from "../src/compensation/apply.ts";
import { savePolicy } from "../src/compensation/policies.ts";
import { approveRun, createPreview } from "../src/compensation/runs.ts";
import { createComponent } from "../src/components/store.ts";
import { type Incident, openIncident, postUpdate } from "../src/core/incidents.ts";
import { insertIncident } from "../src/incidents/store.ts";
import { prng } from "../src/lib/prng.ts";
import { type Database, openDatabase } from "../src/storage/database.ts";
import { createWorkspace } from "../src/workspaces/store.ts";
import { benchServer, freshBenchDatabase } from "./postgres.ts";

const { values: args } = parseArgs({
  options: {
    sessions: { type: "string", default: "10000000" },
    affected: { type: "string", default: "1000000" },
    "import-only": { type: "boolean", default: false },
    /** sessions go in once, as NDJSON, with no plain COPY beside them: for the figures after it */
    "one-import": { type: "boolean", default: false },
  },
});
const SESSIONS = Number(args.sessions.replaceAll("_", ""));
const AFFECTED = Math.min(SESSIONS, Number(args.affected.replaceAll("_", "")));
const CUSTOMERS = Math.max(1, Math.floor(SESSIONS / 10));
const SEED = 20171219;

const MIN = 60_000;
const HOUR = 60 * MIN;
const MONTH_START = Date.parse("2025-01-01T00:00:00Z");
const MONTH_END = Date.parse("2025-01-31T00:00:00Z");
const WINDOW = { start: Date.parse("2025-01-15T02:00:00Z"), end: Date.parse("2025-01-15T16:00:00Z") };
const MAX_RENTAL = 3 * HOUR;
const CITIES = ["milan", "rome", "berlin", "hamburg", "toronto", "denver"] as const;

/** The CSV header: the columns the import stores, in its order. */
const SESSION_COLUMNS = storedColumns("sessions");

/** Records as a file: CSV with a header row, or NDJSON. */
async function writeFile(
  path: string,
  format: FileFormat,
  records: AsyncIterable<SourceRecord>,
  columns: string[],
) {
  async function* ndjson() {
    for await (const { record } of records) yield `${JSON.stringify(record)}\n`;
  }
  async function* rows() {
    for await (const { record } of records) yield record;
  }
  const text =
    format === "csv"
      ? Readable.from(rows()).pipe(stringify({ header: true, columns }))
      : Readable.from(ndjson());
  await pipeline(text, createWriteStream(path));
}

const customerId = (i: number) => `c${String(i).padStart(8, "0")}`;

async function* customerRecords(): AsyncGenerator<SourceRecord> {
  for (let i = 0; i < CUSTOMERS; i++) {
    const home = CITIES[i % CITIES.length]!;
    const plan = i % 5 ? "basic" : "plus";
    yield { line: i + 1, record: { id: customerId(i), home_region: home, plan, email: `c${i}@example.com` } };
  }
}

/** Sessions spread over a month; exactly AFFECTED of them (evenly interleaved) touch the window. */
async function* sessionRecords(): AsyncGenerator<SourceRecord> {
  const rnd = prng(SEED);
  for (let i = 0; i < SESSIONS; i++) {
    const affected = Math.floor(((i + 1) * AFFECTED) / SESSIONS) > Math.floor((i * AFFECTED) / SESSIONS);
    const duration = Math.round(5 * MIN + rnd() * (MAX_RENTAL - 5 * MIN));
    let start: number;
    if (affected) {
      // Starts up to one rental before the window and ends at least a minute into it.
      const span = WINDOW.end - WINDOW.start + duration - 2 * MIN;
      start = WINDOW.start - duration + MIN + Math.floor(rnd() * span);
    } else {
      // Anywhere else in the month, an hour clear of the window so no boundary case is ambiguous.
      const before = WINDOW.start - HOUR - MAX_RENTAL - MONTH_START;
      const after = MONTH_END - MAX_RENTAL - (WINDOW.end + HOUR);
      const x = rnd() * (before + after);
      start = Math.floor(x < before ? MONTH_START + x : WINDOW.end + HOUR + (x - before));
    }
    const city = CITIES[Math.floor(rnd() * CITIES.length)]!;
    const record = {
      id: `s${String(i).padStart(9, "0")}`,
      customer_id: customerId(Math.floor(rnd() * CUSTOMERS)),
      kind: "rental",
      component_id: `rentals-${city}`,
      region: city,
      started_at: new Date(start).toISOString(),
      ended_at: new Date(start + duration).toISOString(),
      charge: 100 + Math.round((duration / MIN) * 29), // unlock fee + 0.29 EUR a minute
      currency: "EUR",
      refunded: 0,
    };
    yield { line: i + 1, record };
  }
}

const POLICY = `policy: bench-outage
rounding: half_up
match: {session_kinds: [rental], components: [rentals], regions: ["*"], min_overlap: PT1M}
combine: first_match
rules:
  - {id: whole_session, when: {overlap_gt: PT30M}, action: {refund: session_charge}}
  - {id: in_window, action: {refund: prorata_overlap}}
notify: {template: outage-refund}
`;

const FLOOR = `select customer_id, sum(charge * extract(epoch from least(ended_at, $3) - greatest(started_at, $2))
    / nullif(extract(epoch from ended_at - started_at), 0)) as due
  from usage_sessions where workspace_id = $1 and started_at < $3 and ended_at > $2 group by customer_id`;

// The preview's fair floor (issue 19): the floor reads, but a preview must also write a line per
// session it pays. The same read with one line per session written by SQL into a table shaped
// like comp_run_lines (its primary key included) is what the work costs PostgreSQL alone.
const FLOOR_WITH_LINES = `insert into bench_floor_lines (workspace_id, run_id, key, customer_id, kind, amount, currency,
    target, already_applied, refunded_elsewhere, policy_group, rule, breakdown, session)
  select workspace_id, 'floor', 'floor:' || id || ':refund', customer_id, 'refund', due, currency,
    due, 0, refunded, 'rules', 'floor', '[]', id
  from (select *, round(charge * extract(epoch from least(ended_at, $3) - greatest(started_at, $2))
      / nullif(extract(epoch from ended_at - started_at), 0))::bigint as due
    from usage_sessions where workspace_id = $1 and started_at < $3 and ended_at > $2) s`;

// Peak RSS of this process (PostgreSQL's own memory is not counted), overall and per phase.
const MB = 2 ** 20;
let peakRss = 0;
let phasePeak = 0;
function sampleRss() {
  const rss = process.memoryUsage().rss;
  peakRss = Math.max(peakRss, rss);
  phasePeak = Math.max(phasePeak, rss);
}

/** Runs one phase: its result, seconds and peak RSS in MB. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number, number]> {
  phasePeak = 0;
  sampleRss();
  const t0 = performance.now();
  const result = await fn();
  sampleRss();
  return [result, (performance.now() - t0) / 1000, phasePeak / MB];
}

const met = (ok: boolean) => (ok ? "met" : "NOT met");
const row = (seconds: number | null, detail: string, rssMb?: number) => ({
  time: seconds === null ? "" : `${seconds.toFixed(2)} s`,
  detail,
  "peak RSS": rssMb === undefined ? "" : `${rssMb.toFixed(0)} MB`,
});

/** A file's text, streamed. */
const POLICY_WITH_CREDIT = POLICY.replace("bench-outage", "bench-outage-credit").replace(
  "notify:",
  "  - {id: sorry, per: customer, action: {credit: {unit: minutes, amount: 15, valid_for: P90D}}}\nnotify:",
);

async function* fileText(path: string): AsyncGenerator<string> {
  for await (const chunk of createReadStream(path, { encoding: "utf8" })) yield chunk as string;
}

const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

async function bench(database: Database) {
  const setupAt = new Date(WINDOW.start - 30 * 86_400_000);
  const ws = (await createWorkspace(database.db, { slug: "bench", name: "Bench" })).id;
  await createComponent(database.db, ws, { id: "rentals", name: "Rentals" }, setupAt);
  for (const city of CITIES) {
    const child = { id: `rentals-${city}`, parentId: "rentals", name: city };
    await createComponent(database.db, ws, child, setupAt);
  }

  const dir = mkdtempSync(join(tmpdir(), "amends-bench-"));
  const file = (name: string) => join(dir, name);
  log(
    `writing ${CUSTOMERS} customers and ${SESSIONS} sessions (${AFFECTED} in the window) as CSV and NDJSON`,
  );
  await writeFile(file("customers.csv"), "csv", customerRecords(), ["id", "home_region", "plan", "email"]);
  const oneImport = args["one-import"];
  if (!oneImport) await writeFile(file("sessions.csv"), "csv", sessionRecords(), SESSION_COLUMNS);
  await writeFile(file("sessions.ndjson"), "ndjson", sessionRecords(), SESSION_COLUMNS);

  log("importing customers, then sessions: a plain COPY, the CSV and the NDJSON import");
  const [, customersS, customersMb] = await timed(() =>
    importFile(database, ws, "customers", "csv", createReadStream(file("customers.csv"))),
  );
  // The same CSV straight into the same table (indexes, foreign key and all), nothing checked.
  await database.query("analyze customers");
  await database.query(`alter table usage_sessions alter column workspace_id set default '${ws}'`);
  const [, copyS] = oneImport
    ? [undefined, Number.NaN]
    : await timed(() =>
        database.transaction((tx) =>
          tx.copyFrom(
            "usage_sessions",
            SESSION_COLUMNS,
            fileText(file("sessions.csv")),
            "with (format csv, header true)",
          ),
        ),
      );
  await database.query("alter table usage_sessions alter column workspace_id drop default");
  await database.query("truncate usage_sessions");
  const [, csvS, csvMb] = oneImport
    ? [undefined, Number.NaN, undefined]
    : await timed(() => importFile(database, ws, "sessions", "csv", createReadStream(file("sessions.csv"))));
  await database.query("truncate usage_sessions");
  const [imported, importS, importMb] = await timed(() =>
    importFile(database, ws, "sessions", "ndjson", createReadStream(file("sessions.ndjson"))),
  );
  rmSync(dir, { recursive: true, force: true });
  const rate = (n: number, sec: number) => `${n} rows, ${Math.round(n / sec)} rows/s`;
  const vsCopy = (sec: number) => `${(sec / copyS).toFixed(2)}× plain COPY; ≤ 3× ${met(sec <= 3 * copyS)}`;
  const importRows = {
    "import customers (CSV)": row(customersS, rate(CUSTOMERS, customersS), customersMb),
    ...(!oneImport && {
      "plain COPY sessions": row(copyS, `${rate(SESSIONS, copyS)}: the ceiling`),
      "import sessions CSV": row(csvS, `${rate(SESSIONS, csvS)}; ${vsCopy(csvS)}`, csvMb),
    }),
    "import sessions NDJSON": row(
      importS,
      `${rate(imported.rows, importS)}${oneImport ? "" : `; ${vsCopy(importS)}`}`,
      importMb,
    ),
  };
  if (args["import-only"]) {
    console.log(`\n${SESSIONS} sessions, ${CUSTOMERS} customers`);
    console.table(importRows);
    return;
  }
  // Fresh statistics for both contenders, as autovacuum would give them eventually.
  await database.query("analyze customers; analyze usage_sessions");

  const rentals = [{ componentId: "rentals", status: "major_outage" as const }];
  let incident: Incident = openIncident(
    {
      id: "INC-BENCH",
      updateId: "upd-bench-1",
      title: "Rentals cannot be ended",
      startedAt: new Date(WINDOW.start),
      update: { body: "Investigating", components: rentals },
    },
    new Date(WINDOW.start + 20 * MIN),
  );
  const resolve = { status: "resolved" as const, body: "Fixed" };
  incident = postUpdate(incident, "upd-bench-2", resolve, new Date(WINDOW.end));
  await insertIncident(database.db, ws, incident);
  const policy = await savePolicy(database.db, ws, POLICY, "bench", new Date());

  log("floor query");
  const range = [ws, new Date(WINDOW.start).toISOString(), new Date(WINDOW.end).toISOString()];
  // Keep only the count: holding the floor's rows would inflate the preview's RSS.
  const [floorCustomers, floorS, floorMb] = await timed(
    async () => (await database.query(FLOOR, range)).length,
  );
  log("preview");
  const input = { incidentId: incident.id, policyId: policy.id };
  const [run, previewS, previewMb] = await timed(() =>
    createPreview(database, ws, input, "bench", new Date()),
  );
  // After the preview, so that its writes do not weigh on either contender.
  await database.query("create table bench_floor_lines (like comp_run_lines including all)");
  const [, floorLinesS] = await timed(() => database.query(FLOOR_WITH_LINES, range));
  // The write alone: the preview's own lines, already computed, copied into an empty table
  // shaped like comp_run_lines. No preview can take less than this plus reading its sessions.
  await database.query("truncate bench_floor_lines");
  await database.query(
    "create table bench_lines as select * from comp_run_lines where workspace_id = $1 and run_id = $2",
    [ws, run.id],
  );
  const [, writeS] = await timed(() =>
    database.query("insert into bench_floor_lines select * from bench_lines"),
  );
  await database.query("drop table bench_floor_lines, bench_lines");
  // The same outage with a credit per customer beside the refunds: previewed by SQL too.
  log("preview with a credit per customer");
  const credited = await savePolicy(database.db, ws, POLICY_WITH_CREDIT, "bench", new Date());
  const [creditRun, creditS, creditMb] = await timed(() =>
    createPreview(database, ws, { ...input, policyId: credited.id }, "bench", new Date()),
  );
  const summary = run.summary as { lines: number; customers: number; money: Record<string, number> };
  log("approve, apply floor, apply");
  const [, approveS] = await timed(() => approveRun(database.db, ws, run.id, "bench", new Date()));
  const chunk = 1_000;
  const [floorMessages, applyFloorS] = await applyFloor(database, ws, run.id, incident.id, chunk);
  const [applied, applyS, applyMb] = await timed(() => applyRun(database, ws, run.id, new Date(), { chunk }));

  log("re-preview");
  const [again, repreviewS, repreviewMb] = await timed(() =>
    createPreview(database, ws, input, "bench", new Date()),
  );
  const [stored] = await database.query<{ n: number }>(
    "select count(*)::int as n from comp_run_items where workspace_id = $1 and run_id = $2",
    [ws, again.id],
  );
  const repreview = again.summary as { lines: number; excluded: number };

  const done = applied.appliedSummary as { entries: number; messages: number };
  const ratio = previewS / floorS;
  console.log(`\n${SESSIONS} sessions, ${CUSTOMERS} customers, ${AFFECTED} in the window`);
  console.table({
    ...importRows,
    floor: row(floorS, `${floorCustomers} customers`, floorMb),
    preview: row(previewS, `${summary.customers} customers; ≤ 30 s ${met(previewS <= 30)}`, previewMb),
    "preview ÷ floor + lines": row(
      null,
      `${(previewS / floorLinesS).toFixed(2)}×; ≤ 1.5× ${met(previewS <= 1.5 * floorLinesS)}`,
    ),
    "  floor + lines": row(floorLinesS, "reading the sessions and writing a line each, by SQL alone"),
    "  floor (read only)": row(null, `preview ÷ the plain floor ${ratio.toFixed(1)}×`),
    "  lines alone": row(
      writeS,
      `writing the preview's lines, nothing read: ${(writeS / floorS).toFixed(1)}× the floor`,
    ),
    "preview with credits": row(
      creditS,
      `${(creditRun.summary as { lines: number }).lines} lines, a credit per customer beside the refunds: ${(
        creditS / floorLinesS
      ).toFixed(2)}× floor + lines`,
      creditMb,
    ),
    approve: row(approveS, ""),
    "apply floor": row(applyFloorS, `${summary.lines} entries, ${floorMessages} messages, nothing read`),
    apply: row(applyS, `${done.entries} entries, ${done.messages} messages`, applyMb),
    "apply ÷ floor": row(
      null,
      `${(applyS / applyFloorS).toFixed(2)}×; ≤ 1.5× ${met(applyS <= 1.5 * applyFloorS)}; ${Math.round(
        (applyS / summary.lines) * 1e6,
      )} µs a line (1 M lines ≤ 60 s: ${met((applyS / summary.lines) * 1e6 <= 60)})`,
    ),
    "re-preview": row(
      repreviewS,
      `${repreview.lines} lines, ${repreview.excluded} excluded, ${stored!.n} rows stored; ≤ 5 s ${met(repreviewS <= 5)}`,
      repreviewMb,
    ),
    "lines produced": row(null, `${summary.lines}: ${JSON.stringify(summary.money)}`),
    "peak RSS": row(null, `≤ 512 MB ${met(peakRss / MB <= 512)}`, peakRss / MB),
  });
}

/**
 * The apply floor: what booking the run costs PostgreSQL alone. The run's lines go, as they
 * are (nothing read back or recomputed), into copies of the ledger's and the outbox's tables
 * with all their indexes and the postings' foreign key, in the same chunks of whole customers,
 * one transaction each: an entry and two postings per line and one message per customer told
 * (payload built from the chunk's entries). Returns the messages written and the seconds.
 */
async function applyFloor(database: Database, ws: string, runId: string, incidentId: string, chunk: number) {
  await database.query(`create table floor_entries (like ledger_entries including all);
    create table floor_postings (like ledger_postings including all);
    alter table floor_postings add foreign key (workspace_id, entry_id) references floor_entries (workspace_id, id);
    create table floor_messages (like outbox_messages including all)`);
  const bounds = (
    await database.query<{ customer_id: string }>(
      `select distinct customer_id from (select customer_id, row_number() over (order by customer_id) as n
         from comp_run_lines where workspace_id = $1 and run_id = $2) l where n % $3 = 0 order by customer_id`,
      [ws, runId, chunk],
    )
  ).map((r) => r.customer_id);
  const chunks = [...bounds, null].map((upto, i) => [i ? bounds[i - 1]! : "", upto] as const);
  const [messages, seconds] = await timed(async () => {
    let n = 0;
    for (const [after, upto] of chunks) {
      const range = upto === null ? "customer_id > $4" : "customer_id > $4 and customer_id <= $5";
      const [row] = await database.transaction((tx) =>
        tx.query<{ n: number }>(
          `with entry as (
             insert into floor_entries (workspace_id, id, idempotency_key, action_key, run_id, incident_id, customer_id,
               kind, amount, currency, refund_of, detail, created_at)
             select workspace_id, 'le_' || replace(gen_random_uuid()::text, '-', ''), key || '@' || target, key, run_id, $2,
               customer_id, kind, amount, currency, 'session:' || session,
               jsonb_build_object('key', key, 'customerId', customer_id, 'kind', kind, 'amount', amount, 'currency', currency,
                 'unit', unit, 'target', target, 'alreadyApplied', already_applied, 'refundedElsewhere', refunded_elsewhere,
                 'group', policy_group, 'rule', rule, 'breakdown', breakdown, 'session', session, 'charge', charge,
                 'reason', reason, 'dueBy', due_by, 'scope', scope, 'expiresAt', expires_at, 'visibleBy', visible_by), now()
             from comp_run_lines where workspace_id = $1 and run_id = $3 and ${range}
             returning workspace_id, id, action_key, customer_id, kind, amount, currency
           ),
           posting as (
             insert into floor_postings (workspace_id, entry_id, account, amount, currency)
             select workspace_id, id, p.account, p.amount, currency from entry
             cross join lateral (values ('contra_revenue:refunds', amount), ('psp_clearing', -amount)) p(account, amount)
           ),
           message as (
             insert into floor_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel,
               address, locale, template, payload, status, created_at)
             select $1, 'msg_' || replace(gen_random_uuid()::text, '-', ''), $2 || ':' || e.customer_id || ':compensation',
               'compensation.granted', $2, e.customer_id, c.channels->0->>'type', c.channels->0->>'address',
               coalesce(c.locale, 'en'), 'compensation',
               jsonb_build_object('incident_id', $2::text, 'nothing_due', false, 'lines', e.lines), 'pending', now()
             from (select customer_id, jsonb_agg(jsonb_build_object('key', action_key, 'kind', kind, 'amount', amount,
                     'currency', currency) order by action_key) as lines from entry group by customer_id) e
             left join customers c on c.workspace_id = $1 and c.id = e.customer_id
             returning 1
           )
           select count(*)::int as n from message`,
          [ws, incidentId, runId, after, ...(upto === null ? [] : [upto])],
        ),
      );
      n += row!.n;
    }
    return n;
  });
  await database.query("drop table floor_postings, floor_entries, floor_messages");
  return [messages, seconds] as const;
}

async function main() {
  const sampler = setInterval(sampleRss, 100);
  sampler.unref();
  const srv = await benchServer();
  const fresh = await freshBenchDatabase(srv.url, "amends_bench");
  let database: Database | undefined;
  try {
    database = await openDatabase({ url: fresh.url });
    await bench(database);
  } finally {
    clearInterval(sampler);
    await database?.close();
    await fresh.drop().catch(() => {});
    await srv.stop();
  }
}

await main();
