/**
 * Compensation runs: preview → approve → apply.
 *
 * Preview streams the candidates (sessions or charges touching the window) ordered by customer
 * through a cursor, evaluates each customer with the pure engine, and writes lines, excluded
 * and review items and notices in bulk. Memory holds one batch of customers at a time.
 *
 * Apply books each line in the ledger exactly once: in chunks, each in a transaction holding an
 * advisory lock on the workspace, it recomputes `target − applied − refunded elsewhere` (never
 * above the approved amount) and inserts an entry whose idempotency key (`action@target`) is
 * unique. Re-applying, or applying again after a crash half-way, finds the entries already
 * there and posts nothing twice. Then each notified customer gets one outbox message, keyed
 * `incident:customer:compensation`.
 */
import { createHash } from "node:crypto";
import { and, asc, eq, gt } from "drizzle-orm";
import { listComponents } from "../components/store.ts";
import type {
  ActionLine,
  CompCharge,
  CompCustomer,
  CompSession,
  CustomerResult,
  EngineContext,
  LineKind,
} from "../core/compensation/engine.ts";
import { evaluateCustomer, isWithin, possibleKeys, refundTarget } from "../core/compensation/engine.ts";
import { isBalanced, ledgerCurrency, postingsFor } from "../core/compensation/ledger.ts";
import { policyGroups } from "../core/compensation/policy.ts";
import {
  addToTotals,
  emptyTotals,
  noticeOf,
  sortedTotals,
  type Totals,
} from "../core/compensation/preview.ts";
import { LocalCalendar, parseWindow } from "../core/compensation/time.ts";
import { AmendsError, conflict, notFound } from "../core/errors.ts";
import { regionNames } from "../core/wording.ts";
import { getIncident } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import type { CopyValue, Database, Db } from "../storage/database.ts";
import { components, compRunLines, compRuns } from "../storage/schema.ts";
import { loadPolicy } from "./policies.ts";
import { epochMsSql, previewInSql, previewsInSql } from "./preview-sql.ts";

export type Run = typeof compRuns.$inferSelect;

/** Charges this long before and after a billing-fault window are read to find originals and late duplicates. */
const CHARGE_MARGIN_MS = 7 * 86_400_000;
/** Candidate rows per fetch: the unit of the preview's pipeline. */
const FETCH = 10_000;
/** Customers evaluated between two yields to the event loop. */
const YIELD_EVERY = 250;

export interface PreviewInput {
  incidentId: string;
  policyId: string;
  policyVersion?: number;
  /** the run's time, base of credit validity; now when absent */
  asOf?: Date;
  /** when the fault was detected, base of refund deadlines; the incident's creation when absent */
  detectedAt?: Date;
  /** through the engine even when SQL could do it, and always as a new run: lets the tests hold the two equal */
  engineOnly?: boolean;
}

/** Epoch milliseconds, selected as such (epochMsSql): cheaper than a Date per row. */
const msOf = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function createPreview(
  database: Database,
  workspaceId: string,
  input: PreviewInput,
  actor: string | null,
  now: Date,
): Promise<Run> {
  const incident = await getIncident(database.db, workspaceId, input.incidentId);
  const stored = await loadPolicy(database.db, workspaceId, input.policyId, input.policyVersion);
  const policy = stored.policy;
  if (policy.match.incident && policy.match.incident !== incident.id) {
    throw conflict(
      `policy "${stored.id}" is written for incident "${policy.match.incident}", not "${incident.id}"`,
      "policy",
    );
  }
  const asOf = input.asOf ?? now;
  const fault = policy.match.billing_fault;
  const window = policy.match.window
    ? parseWindow(policy.match.window)
    : fault
      ? parseWindow(fault.window)
      : { start: incident.startedAt.getTime(), end: (incident.resolvedAt ?? asOf).getTime() };
  if (window.end <= window.start)
    throw conflict("the incident's window is empty: it was resolved when it started");

  const comps = await database.db
    .select({ id: components.id, parentId: components.parentId })
    .from(components)
    .where(eq(components.workspaceId, workspaceId));
  const base: Omit<EngineContext, "applied"> = {
    policy,
    incident: {
      id: incident.id,
      window,
      detectedAt: (input.detectedAt ?? incident.createdAt).getTime(),
      components: incident.components.map((c) => c.componentId),
    },
    parents: new Map(comps.map((c) => [c.id, c.parentId])),
    asOf: asOf.getTime(),
  };

  // A monthly cap counts what other incidents of the same (local) month already paid.
  const monthlyCap = policyGroups(policy).some((g) => g.cap?.per_customer_per_month);
  const calendar = new LocalCalendar(policy.time_zone, policy.holidays);
  const firstDay = calendar.dateOf(window.start).with({ day: 1 });
  const month = monthlyCap
    ? { start: calendar.startOf(firstDay), end: calendar.startOf(firstDay.add({ months: 1 })) }
    : undefined;

  let runId = newId("run");
  let totals = emptyTotals();
  const counts = { customers: 0, affected: 0, excluded: 0, review: 0, notifications: 0 };

  await database
    .transaction(async (tx) => {
      // A large preview aggregates hundreds of thousands of customers: in memory, not on disk
      // (on a server; embedded, memory once grown stays with the process). Its statements run
      // once over a million rows; compiling them (JIT) cost more than it saved.
      if (tx.kind === "postgres") await tx.query("set local work_mem = '256MB'");
      await tx.query("set local jit = off");
      await tx.db.insert(compRuns).values({
        workspaceId,
        id: runId,
        incidentId: incident.id,
        policyId: stored.id,
        policyVersion: stored.version,
        status: "previewing",
        asOf,
        windowStart: new Date(window.start),
        windowEnd: new Date(window.end),
        summary: {},
        previewHash: "",
        createdAt: now,
        createdBy: actor,
      });

      if (!input.engineOnly && previewsInSql(policy)) {
        // The components a session must be on: the roots and everything below them.
        const roots = policy.match.components ?? base.incident.components;
        const below = comps.map((c) => c.id).filter((id) => isWithin(id, roots, base.parents));
        const { money, lines, ...sqlCounts } = await previewInSql(tx, policy, {
          workspaceId,
          runId,
          incidentId: incident.id,
          window,
          asOf: base.asOf,
          detectedAt: base.incident.detectedAt,
          components: roots.length ? [...new Set([...roots, ...below])] : null,
        });
        Object.assign(counts, sqlCounts);
        totals = { money, units: {}, lines };
      } else {
        await previewInEngine(tx, workspaceId, runId, base, month, counts, totals);
      }
      // Customers who told us they were affected ("I am affected") are candidates for review,
      // whatever the policy found: a person checks what they say against what the data shows.
      const reported = await tx.query<{ n: number }>(
        `with inserted as (
         insert into comp_run_items (workspace_id, run_id, type, customer_id, reference, reason, detail, key)
         select workspace_id, $2, 'review', coalesce(customer_id, 'report:' || id), id, 'reported_affected',
                left(concat_ws(' · ', component_id, city, contact, nullif(text, '')), 500), null
           from affected_reports where workspace_id = $1 and incident_id = $3
         on conflict do nothing returning 1)
       select count(*)::int as n from inserted`,
        [workspaceId, runId, incident.id],
      );
      counts.review += reported[0]?.n ?? 0;

      const t = sortedTotals(totals);
      const summary = { money: t.money, units: t.units, lines: t.lines, ...counts };
      const previewHash = await previewDigest(tx, workspaceId, runId, summary);
      // The same inputs and outcome as a preview still waiting for approval: that run, not a
      // second one, so the same preview asked twice answers byte for byte the same.
      if (!input.engineOnly) {
        const [same] = await tx.query<{ id: string }>(
          `select id from comp_runs where workspace_id = $1 and incident_id = $2 and policy_id = $3
           and policy_version = $4 and as_of = $5 and window_start = $6 and window_end = $7
           and preview_hash = $8 and status = 'previewed' and id <> $9
         order by created_at, id limit 1`,
          [
            workspaceId,
            incident.id,
            stored.id,
            stored.version,
            asOf.toISOString(),
            new Date(window.start).toISOString(),
            new Date(window.end).toISOString(),
            previewHash,
            runId,
          ],
        );
        if (same) throw new SamePreview(same.id);
      }
      await tx.db
        .update(compRuns)
        .set({ status: "previewed", summary, previewHash })
        .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)));
    })
    .catch((err) => {
      if (!(err instanceof SamePreview)) throw err;
      runId = err.runId;
    });
  return getRun(database.db, workspaceId, runId);
}

/** Rolls back a preview that an earlier run already holds. */
class SamePreview extends Error {
  constructor(readonly runId: string) {
    super(`same as run ${runId}`);
  }
}

/**
 * The preview of any policy: the candidates (sessions or charges touching the window) stream
 * through a cursor, ordered by customer, into the pure engine, and the results are written in
 * bulk while the next rows are fetched.
 */
async function previewInEngine(
  tx: Database,
  workspaceId: string,
  runId: string,
  base: Omit<EngineContext, "applied">,
  month: { start: number; end: number } | undefined,
  counts: Record<"customers" | "affected" | "excluded" | "review" | "notifications", number>,
  totals: Totals,
) {
  const { policy, incident } = base;
  const window = incident.window;
  const fault = policy.match.billing_fault;
  // Each candidate row carries its customer (left join: a customer may be unknown), so no
  // per-batch customer lookup. Sessions: a closed one touching the window started at most
  // the workspace's longest session before it (usage_bounds), which keeps the index range tight.
  const customer = `c.home_region, c.plan, c.monthly_fee, c.currency as customer_currency`;
  const joinCustomer = "left join customers c on c.workspace_id = t.workspace_id and c.id = t.customer_id";
  const candidates = fault
    ? `select t.id, t.customer_id, t.usage_ref, t.amount, t.currency, t.status, ${epochMsSql("t.created_at")} as created_ms, t.amount_refunded, ${customer}
       from charges t ${joinCustomer}
       where t.workspace_id = $1 and t.created_at >= $2 and t.created_at < $3
       order by t.customer_id collate "C", t.created_at, t.id`
    : `select t.id, t.customer_id, t.kind, t.component_id, t.region, ${epochMsSql("t.started_at")} as started_ms, ${epochMsSql("t.ended_at")} as ended_ms, t.charge, t.currency, t.refunded, ${customer}
       from usage_sessions t ${joinCustomer}
       where t.workspace_id = $1 and t.started_at <= $3
         and (t.ended_at is null or t.ended_at >= $2 and t.started_at >= coalesce(
           (select $2::timestamptz - b.longest_session_ms * interval '1 millisecond' from usage_bounds b where b.workspace_id = $1),
           '-infinity'))
       order by t.customer_id collate "C", t.started_at, t.id`;
  const range = fault
    ? [window.start - CHARGE_MARGIN_MS, window.end + CHARGE_MARGIN_MS]
    : [window.start, window.end];
  await tx.query(`declare candidates no scroll cursor for ${candidates}`, [
    workspaceId,
    ...range.map((ms) => new Date(ms).toISOString()),
  ]);

  type Batch = { customerId: string; rows: Record<string, unknown>[] }[];
  /** What this batch's customers were already paid: for this incident, and this month for others. */
  const lookup = async (batch: Batch) => {
    const ids = batch.map((b) => b.customerId);
    // By action key, not by customer: a session re-imported under another customer since it
    // was paid is still paid.
    const targets = { customers: ids, rows: batch.flatMap((b) => b.rows.map((r) => r.id as string)) };
    const [appliedRows, otherRows, paid] = await Promise.all([
      tx.query<{ action_key: string; total: number }>(
        `select action_key, sum(amount)::bigint as total from ledger_entries
         where workspace_id = $1 and action_key = any($3::text[]) and incident_id = $2 group by action_key`,
        [workspaceId, incident.id, possibleKeys(incident.id, policy, targets)],
      ),
      refundsForOtherIncidents(
        tx,
        workspaceId,
        incident.id,
        targets.rows.map((id) =>
          refundTarget(fault ? { session: null, charge: id } : { session: id, charge: null }),
        ),
      ),
      month && paidInMonth(tx, workspaceId, incident.id, month, ids),
    ]);
    return {
      applied: new Map(appliedRows.map((r) => [r.action_key, Number(r.total)])),
      others: otherRows,
      paid,
    };
  };
  const evaluate = (batch: Batch, known: Awaited<ReturnType<typeof lookup>>) => {
    const ctx: EngineContext = {
      ...base,
      applied: known.applied,
      refundedForOtherIncidents: known.others,
      ...(known.paid && { paidThisMonth: known.paid }),
    };
    const results: CustomerResult[] = [];
    for (const { customerId, rows } of batch) {
      const c = rows[0]!;
      const customer: CompCustomer = {
        id: customerId,
        homeRegion: (c.home_region as string) ?? null,
        plan: (c.plan as string) ?? null,
        monthlyFee: c.monthly_fee === null || c.monthly_fee === undefined ? null : Number(c.monthly_fee),
        currency: (c.customer_currency as string) ?? null,
      };
      const sessions: CompSession[] = fault
        ? []
        : rows.map((r) => ({
            id: r.id as string,
            customerId,
            kind: r.kind as string,
            componentId: r.component_id as string | null,
            region: r.region as string | null,
            start: msOf(r.started_ms)!,
            end: msOf(r.ended_ms),
            charge: Number(r.charge),
            currency: r.currency as string,
            refunded: Number(r.refunded),
          }));
      const charges: CompCharge[] = fault
        ? rows.map((r) => ({
            id: r.id as string,
            customerId,
            usageRef: r.usage_ref as string | null,
            amount: Number(r.amount),
            currency: r.currency as string,
            status: r.status as string,
            createdAt: msOf(r.created_ms)!,
            amountRefunded: Number(r.amount_refunded),
          }))
        : [];
      const result = evaluateCustomer(ctx, customer, sessions, charges);
      results.push(result);
      counts.customers++;
      if (result.affected) counts.affected++;
      counts.excluded += result.excluded.length;
      counts.review += result.review.length;
      if (noticeOf(result, policy.notify.when_nothing_due)) counts.notifications++;
      for (const l of result.lines) addToTotals(totals, l);
    }
    return results;
  };

  // A pipeline on the one connection. A driver sends a connection's next query only once the
  // last one is done and JavaScript is free to notice, so: a chunk's lookup first, then the
  // previous chunk's writes and the next fetch, then the evaluation, which yields now and
  // then so that each query goes out as soon as the one before is done.
  const fetchRows = () => tx.query<Record<string, unknown>>(`fetch ${FETCH} from candidates`);
  let unwritten: CustomerResult[] = [];
  let carry: Batch[number] | undefined;
  let rows = await fetchRows();
  let writing: Promise<void> | undefined;
  let next: Promise<Record<string, unknown>[]> | undefined;
  try {
    for (;;) {
      const last = rows.length < FETCH;
      // Complete customers only: the last one may go on in the next chunk.
      const batch: Batch = [];
      for (const row of rows) {
        const customerId = row.customer_id as string;
        if (carry?.customerId !== customerId) {
          if (carry) batch.push(carry);
          carry = { customerId, rows: [] };
        }
        carry.rows.push(row);
      }
      if (last && carry) batch.push(carry);
      const known = await lookup(batch);
      writing = writeResults(tx, workspaceId, runId, unwritten, policy.notify.when_nothing_due);
      next = last ? undefined : fetchRows();
      // Awaited below; a failure meanwhile must not count as unhandled.
      writing.catch(() => {});
      next?.catch(() => {});
      unwritten = [];
      for (let i = 0; i < batch.length; i += YIELD_EVERY) {
        unwritten.push(...evaluate(batch.slice(i, i + YIELD_EVERY), known));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writing;
      if (!next) break;
      rows = await next;
    }
  } catch (err) {
    // Nothing may still be in flight when the transaction rolls back.
    await Promise.allSettled([writing, next]);
    throw err;
  }
  await writeResults(tx, workspaceId, runId, unwritten, policy.notify.when_nothing_due);
  await tx.query("close candidates");
}

/**
 * Everyone a run tells, with whether nothing is due to them: the customers with lines (told
 * what they got) and those the preview stored as owed nothing. `ws` and `run` are placeholders.
 */
export const toldSql = (ws: string, run: string) =>
  `select customer_id, bool_and(nothing_due) as nothing_due from (
     select customer_id, false as nothing_due from comp_run_lines where workspace_id = ${ws} and run_id = ${run}
     union all
     select customer_id, true from comp_run_notices where workspace_id = ${ws} and run_id = ${run}
   ) told group by customer_id`;

/**
 * A fingerprint of what a preview stored, the same whichever way it was computed: PostgreSQL
 * hashes each row (its run left out) by its columns' own hash functions, which is several
 * times cheaper than hashing its text, and combines the hashes by XOR, so the order rows were
 * written in does not matter and nothing is read back into JavaScript.
 */
async function previewDigest(tx: Database, workspaceId: string, runId: string, summary: object) {
  const digest = (columns: readonly string[], table: string) =>
    `(select coalesce(bit_xor(hash_record_extended(row(${columns.join(", ")}), 0)), 0)::text
      from ${table} where workspace_id = $1 and run_id = $2)`;
  const [rows] = await tx.query<Record<string, string>>(
    `select ${digest(
      LINE_COLUMNS.filter((c) => c !== "workspace_id" && c !== "run_id"),
      "comp_run_lines",
    )} as lines,
       ${digest(["type", "customer_id", "reference", "reason", "detail", "key"], "comp_run_items")} as items,
       ${digest(["customer_id"], "comp_run_notices")} as notices`,
    [workspaceId, runId],
  );
  return createHash("sha256")
    .update(JSON.stringify({ ...rows, summary }))
    .digest("hex");
}

/** What Amends refunded of these sessions or charges (`refundTarget`) for other incidents. */
async function refundsForOtherIncidents(
  tx: Database,
  workspaceId: string,
  incidentId: string,
  refundTargets: string[],
) {
  const rows = await tx.query<{ refund_of: string; total: number }>(
    `select refund_of, sum(amount)::bigint as total from ledger_entries
     where workspace_id = $1 and refund_of = any($2::text[]) and incident_id <> $3 group by refund_of`,
    [workspaceId, refundTargets, incidentId],
  );
  return new Map(rows.map((r) => [r.refund_of, Number(r.total)]));
}

/** Money booked per customer and currency for other incidents that started in the given month. */
async function paidInMonth(
  tx: Database,
  workspaceId: string,
  incidentId: string,
  month: { start: number; end: number },
  customerIds: string[],
) {
  const rows = await tx.query<{ customer_id: string; currency: string; total: number }>(
    `select e.customer_id, e.currency, sum(e.amount)::bigint as total from ledger_entries e
     join incidents i on i.workspace_id = e.workspace_id and i.id = e.incident_id
     where e.workspace_id = $1 and e.incident_id <> $2 and e.customer_id = any($3::text[]) and e.kind in ('refund', 'credit')
       and i.started_at >= $4 and i.started_at < $5
     group by e.customer_id, e.currency`,
    [
      workspaceId,
      incidentId,
      customerIds,
      new Date(month.start).toISOString(),
      new Date(month.end).toISOString(),
    ],
  );
  const paid = new Map<string, Record<string, number>>();
  for (const r of rows)
    paid.set(r.customer_id, { ...paid.get(r.customer_id), [r.currency]: Number(r.total) });
  return paid;
}

const LINE_COLUMNS = [
  "workspace_id",
  "run_id",
  "key",
  "customer_id",
  "kind",
  "amount",
  "currency",
  "unit",
  "target",
  "already_applied",
  "refunded_elsewhere",
  "policy_group",
  "rule",
  "breakdown",
  "session",
  "charge",
  "reason",
  "due_by",
  "scope",
  "expires_at",
  "visible_by",
];

/**
 * A chunk's lines and notices (COPY: the bulk of a preview's writes) and its excluded and
 * review items. All three are sent at once and run in order on the connection.
 */
async function writeResults(
  tx: Database,
  workspaceId: string,
  runId: string,
  results: CustomerResult[],
  whenNothingDue: boolean,
) {
  const lines: CopyValue[][] = [];
  const notices: CopyValue[][] = [];
  const items: (string | null)[][] = [];
  for (const r of results) {
    for (const l of r.lines) {
      lines.push([
        workspaceId,
        runId,
        l.key,
        l.customerId,
        l.kind,
        l.amount,
        l.currency,
        l.unit,
        l.target,
        l.alreadyApplied,
        l.refundedElsewhere,
        l.group,
        l.rule,
        JSON.stringify(l.breakdown),
        l.session,
        l.charge,
        l.reason,
        l.dueBy,
        l.scope,
        l.expiresAt,
        l.visibleBy,
      ]);
    }
    for (const e of r.excluded) items.push(["excluded", e.customerId, e.reference, e.reason, null, null]);
    for (const v of r.review) items.push(["review", v.customerId, v.reference, v.reason, v.detail, v.key]);
    const n = noticeOf(r, whenNothingDue);
    if (n?.nothingDue) notices.push([workspaceId, runId, n.customerId]);
  }
  const column = (i: number) => items.map((item) => item[i]);
  await Promise.all([
    tx.copyRows("comp_run_lines", LINE_COLUMNS, lines),
    tx.copyRows("comp_run_notices", ["workspace_id", "run_id", "customer_id"], notices),
    items.length &&
      tx.query(
        `insert into comp_run_items (workspace_id, run_id, type, customer_id, reference, reason, detail, key)
         select $1, $2, * from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
         on conflict do nothing`,
        [workspaceId, runId, ...[0, 1, 2, 3, 4, 5].map(column)],
      ),
  ]);
}

export type RunLine = typeof compRunLines.$inferSelect;

/** A stored line back as the engine wrote it. */
export function lineOf(r: RunLine): ActionLine {
  return {
    key: r.key,
    customerId: r.customerId,
    kind: r.kind as LineKind,
    amount: r.amount,
    currency: r.currency,
    unit: r.unit,
    target: r.target,
    alreadyApplied: r.alreadyApplied,
    refundedElsewhere: r.refundedElsewhere,
    group: r.policyGroup,
    rule: r.rule,
    breakdown: r.breakdown,
    session: r.session,
    charge: r.charge,
    reason: r.reason,
    dueBy: r.dueBy,
    scope: r.scope,
    expiresAt: r.expiresAt,
    visibleBy: r.visibleBy,
  };
}

export async function getRun(db: Db, workspaceId: string, runId: string): Promise<Run> {
  const [run] = await db
    .select()
    .from(compRuns)
    .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)));
  if (!run) throw notFound("compensation run", runId);
  return run;
}

export async function listRuns(db: Db, workspaceId: string, incidentId?: string): Promise<Run[]> {
  return db
    .select()
    .from(compRuns)
    .where(
      and(
        eq(compRuns.workspaceId, workspaceId),
        ...(incidentId ? [eq(compRuns.incidentId, incidentId)] : []),
      ),
    )
    .orderBy(asc(compRuns.createdAt), asc(compRuns.id));
}

export async function approveRun(
  db: Db,
  workspaceId: string,
  runId: string,
  actor: string | null,
  now: Date,
): Promise<Run> {
  return db.transaction(async (tx) => {
    const [run] = await tx
      .select()
      .from(compRuns)
      .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)))
      .for("update");
    if (!run) throw notFound("compensation run", runId);
    if (run.status === "approved" || run.status === "applied") return run;
    if (run.status !== "previewed") throw conflict(`run "${runId}" is ${run.status}, not previewed`);
    const [updated] = await tx
      .update(compRuns)
      .set({ status: "approved", approvedAt: now, approvedBy: actor })
      .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)))
      .returning();
    return updated!;
  });
}

export interface ApplyOptions {
  /** lines per transaction */
  chunk?: number;
  /** called after each committed chunk: lets the crash test kill the process at any point */
  onChunk?: (applied: number) => void | Promise<void>;
}

export async function applyRun(
  database: Database,
  workspaceId: string,
  runId: string,
  now: Date,
  options: ApplyOptions = {},
): Promise<Run> {
  const run = await getRun(database.db, workspaceId, runId);
  if (run.status === "applied") return run;
  if (run.status !== "approved")
    throw conflict(`run "${runId}" must be approved before it is applied (it is ${run.status})`);
  const chunkSize = options.chunk ?? 1_000;
  /** this attempt's bookings, for onChunk; the stored summary is read from the ledger at the end */
  let bookedNow = 0;
  let after = "";
  for (;;) {
    const lines = (
      await database.db
        .select()
        .from(compRunLines)
        .where(
          and(
            eq(compRunLines.workspaceId, workspaceId),
            eq(compRunLines.runId, runId),
            gt(compRunLines.key, after),
          ),
        )
        .orderBy(asc(compRunLines.key))
        .limit(chunkSize)
    ).map(lineOf);
    if (lines.length === 0) break;
    await database.transaction(async (tx) => {
      // One applier per workspace at a time: two runs must not both pay the same difference,
      // nor two incidents' runs both refund the last of one charge.
      await tx.query("select pg_advisory_xact_lock(hashtext($1))", [`amends:apply:${workspaceId}`]);
      const applied = await tx.query<{ action_key: string; total: number }>(
        "select action_key, sum(amount)::bigint as total from ledger_entries where workspace_id = $1 and action_key = any($2::text[]) group by action_key",
        [workspaceId, lines.map((l) => l.key)],
      );
      const appliedBy = new Map(applied.map((r) => [r.action_key, Number(r.total)]));
      const refunds = await refundStateNow(tx, workspaceId, run.incidentId, lines);
      const entries: { id: string; line: ActionLine; amount: number }[] = [];
      for (const l of lines) {
        // What is still owed now, but never more than was approved: data that changed since
        // the preview can lower a payment, only a new preview can raise it.
        const now = refunds.get(l.key);
        const target = now ? Math.min(l.target, now.headroom) : l.target;
        const owed = target - (appliedBy.get(l.key) ?? 0) - (now?.elsewhere ?? l.refundedElsewhere);
        const amount = Math.min(owed, l.amount);
        if (amount > 0) entries.push({ id: newId("le"), line: l, amount });
      }
      if (entries.length === 0) return;
      const inserted = await tx.query<{ id: string }>(
        `insert into ledger_entries (workspace_id, id, idempotency_key, action_key, run_id, incident_id, customer_id, kind, amount, currency, refund_of, detail, created_at)
         select $1, id, idempotency_key, action_key, $2, $3, customer_id, kind, amount, currency, refund_of, detail::jsonb, $4
         from unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[])
           as t(id, idempotency_key, action_key, customer_id, kind, amount, currency, detail, refund_of)
         on conflict (workspace_id, idempotency_key) do nothing
         returning id`,
        [
          workspaceId,
          runId,
          run.incidentId,
          now.toISOString(),
          entries.map((e) => e.id),
          entries.map((e) => `${e.line.key}@${e.line.target}`),
          entries.map((e) => e.line.key),
          entries.map((e) => e.line.customerId),
          entries.map((e) => e.line.kind),
          entries.map((e) => e.amount),
          entries.map((e) => ledgerCurrency(e.line)),
          entries.map((e) => JSON.stringify({ ...e.line, amount: e.amount })),
          entries.map((e) => (e.line.kind === "refund" ? refundTarget(e.line) : null)),
        ],
      );
      const fresh = new Set(inserted.map((r) => r.id));
      const postings = entries
        .filter((e) => fresh.has(e.id))
        .flatMap((e) => postingsFor(e.line, e.amount, run.incidentId).map((p) => ({ ...p, entryId: e.id })));
      if (!isBalanced(postings)) throw new AmendsError("INTERNAL", "ledger postings do not balance");
      if (postings.length) {
        await tx.query(
          `insert into ledger_postings (workspace_id, entry_id, account, amount, currency)
           select $1, * from unnest($2::text[], $3::text[], $4::bigint[], $5::text[])`,
          [
            workspaceId,
            postings.map((p) => p.entryId),
            postings.map((p) => p.account),
            postings.map((p) => p.amount),
            postings.map((p) => p.currency),
          ],
        );
      }
      bookedNow += fresh.size;
    });
    after = lines.at(-1)!.key;
    await options.onChunk?.(bookedNow);
  }
  // The notices and the run's status in one transaction: a crash between them cannot leave
  // notices queued by an attempt whose count is lost.
  return database.transaction(async (tx) => {
    const messages = await queueNotices(tx, workspaceId, run, now);
    const [updated] = await tx.db
      .update(compRuns)
      .set({
        status: "applied",
        appliedAt: now,
        appliedSummary: { ...(await bookedByRun(tx, workspaceId, runId)), messages },
      })
      .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)))
      .returning();
    return updated!;
  });
}

/**
 * What the run booked, from the ledger rather than from the last attempt's counters: an apply
 * resumed after a crash finds the earlier attempts' entries already there.
 */
async function bookedByRun(database: Database, workspaceId: string, runId: string) {
  const [rows, [lines]] = await Promise.all([
    database.query<{ unit: string | null; currency: string; n: number; total: number }>(
      `select case when kind = 'unit_credit' then detail->>'unit' end as unit, currency,
              count(*)::int as n, sum(amount)::bigint as total
         from ledger_entries where workspace_id = $1 and run_id = $2
        group by 1, 2`,
      [workspaceId, runId],
    ),
    database.query<{ n: number }>(
      "select count(*)::int as n from comp_run_lines where workspace_id = $1 and run_id = $2",
      [workspaceId, runId],
    ),
  ]);
  const stats = {
    entries: 0,
    skipped: 0,
    money: {} as Record<string, number>,
    units: {} as Record<string, number>,
  };
  for (const r of rows) {
    stats.entries += r.n;
    const bucket = r.unit === null ? stats.money : stats.units;
    const k = r.unit ?? r.currency;
    bucket[k] = (bucket[k] ?? 0) + Number(r.total);
  }
  // Lines the run booked nothing for: owed nothing by the time it was applied, or already paid.
  stats.skipped = lines!.n - stats.entries;
  return stats;
}

/**
 * Each refund line's session or charge as it is now: what was refunded outside Amends (support
 * may have refunded more since the preview) and its headroom, what was captured less what
 * Amends refunded of it for other incidents. A refund must never exceed what was captured.
 */
async function refundStateNow(tx: Database, workspaceId: string, incidentId: string, lines: ActionLine[]) {
  const refunds = lines.filter((l) => l.kind === "refund");
  const sessions = refunds.filter((l) => !l.charge && l.session).map((l) => l.session!);
  const charges = refunds.filter((l) => l.charge).map((l) => l.charge!);
  type Row = { id: string; captured: number; refunded: number };
  const [s, c, others] = await Promise.all([
    sessions.length
      ? tx.query<Row>(
          "select id, charge as captured, refunded from usage_sessions where workspace_id = $1 and id = any($2::text[])",
          [workspaceId, sessions],
        )
      : [],
    charges.length
      ? tx.query<Row>(
          "select id, amount as captured, amount_refunded as refunded from charges where workspace_id = $1 and id = any($2::text[])",
          [workspaceId, charges],
        )
      : [],
    refundsForOtherIncidents(tx, workspaceId, incidentId, refunds.map(refundTarget)),
  ]);
  const byTarget = new Map<string, Row>([
    ...s.map((r) => [`session:${r.id}`, r] as const),
    ...c.map((r) => [`charge:${r.id}`, r] as const),
  ]);
  const out = new Map<string, { elsewhere: number; headroom: number }>();
  for (const l of refunds) {
    const target = refundTarget(l);
    const row = byTarget.get(target);
    if (!row) continue;
    const headroom = Number(row.captured) - (others.get(target) ?? 0);
    out.set(l.key, { elsewhere: Number(row.refunded), headroom: Math.max(0, headroom) });
  }
  return out;
}

/**
 * One outbox message per notified customer and incident, ever: what happened (the incident and
 * its window) and what they got, from the ledger, or that nothing was due. A later run's
 * top-up updates the message while it waits to be sent; once sent, it stays as it was.
 */
/** Each region's display name, for the credit's scope ("valid in Milan", not "milan"). */
async function placeNames(database: Database, workspaceId: string): Promise<Record<string, string>> {
  const components = await listComponents(database.db, workspaceId);
  const name = regionNames(components);
  return Object.fromEntries(
    [...new Set(components.map((c) => c.region).filter((r): r is string => Boolean(r)))].map((r) => [
      r,
      name(r),
    ]),
  );
}

async function queueNotices(database: Database, workspaceId: string, run: Run, now: Date): Promise<number> {
  const policy = (await loadPolicy(database.db, workspaceId, run.policyId, run.policyVersion)).policy;
  const rows = await database.query<{ n: number }>(
    `with inserted as (
       insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel, address, locale, template, payload, status, created_at)
       select $1, 'msg_' || replace(gen_random_uuid()::text, '-', ''), $2 || ':' || n.customer_id || ':compensation', 'compensation.granted',
              $2, n.customer_id, c.channels->0->>'type', c.channels->0->>'address', coalesce(c.locale, 'en'), $4,
              jsonb_build_object('incident_id', $2::text, 'incident_title', i.title, 'title_translations', i.title_translations,
                'window_start', $6::text, 'window_end', $7::text, 'run_id', $3::text, 'as_of', $8::text,
                'place_names', $9::jsonb,
                'nothing_due', g.lines is null, 'lines', coalesce(g.lines, '[]'::jsonb)),
              case when c.channels->0 is null then 'no_channel' else 'pending' end, $5
       from (${toldSql("$1", "$3")}) n
       join incidents i on i.workspace_id = $1 and i.id = $2
       left join customers c on c.workspace_id = $1 and c.id = n.customer_id
       -- Per customer through the (workspace_id, customer_id) index: linear whatever the statistics say.
       -- One line per action, however many runs paid it (a top-up is a second entry).
       left join lateral (
         select jsonb_agg(jsonb_build_object('key', k.action_key, 'kind', k.kind, 'amount', k.amount, 'currency', k.currency,
           'unit', k.unit, 'scope', k.scope, 'expires_at', k.expires_at, 'visible_by', k.visible_by, 'reason', k.reason)
           order by k.action_key) as lines
         from (
           select e.action_key, e.kind, e.currency, sum(e.amount)::int8 as amount, max(e.detail->>'unit') as unit,
             max(e.detail->>'scope') as scope, max(e.detail->>'expiresAt') as expires_at,
             max(e.detail->>'visibleBy') as visible_by, max(e.detail->>'reason') as reason
           from ledger_entries e
           where e.workspace_id = $1 and e.customer_id = n.customer_id and e.incident_id = $2
           group by e.action_key, e.kind, e.currency
         ) k
       ) g on true
       -- A re-run's top-up: a message not yet on its way says what they got in all.
       on conflict (workspace_id, idempotency_key) do update set payload = excluded.payload
         where outbox_messages.status in ('pending', 'no_channel')
           and outbox_messages.payload->'lines' is distinct from excluded.payload->'lines'
       returning xmax = 0 as fresh
     ) select count(*) filter (where fresh)::int as n from inserted`,
    [
      workspaceId,
      run.incidentId,
      run.id,
      policy.notify.template ?? "compensation",
      now.toISOString(),
      run.windowStart.toISOString(),
      run.windowEnd.toISOString(),
      run.asOf.toISOString(),
      JSON.stringify(await placeNames(database, workspaceId)),
    ],
  );
  return rows[0]?.n ?? 0;
}
