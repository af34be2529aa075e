/**
 * Compensation runs: preview → approve → apply (apply.ts).
 *
 * Preview streams the candidates (sessions or charges touching the window) ordered by customer
 * through a cursor, evaluates each customer with the pure engine, and writes lines, excluded
 * and review items and notices in bulk. Memory holds one batch of customers at a time. The
 * policies SQL can express are previewed by SQL instead (preview-sql.ts), held equal to the
 * engine by the invariants test.
 */
import { createHash } from "node:crypto";
import { and, asc, eq } from "drizzle-orm";
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
import { policyGroups } from "../core/compensation/policy.ts";
import {
  addToTotals,
  ExclusionSample,
  emptyTotals,
  noticeOf,
  sortedTotals,
  sortKeys,
  type Totals,
} from "../core/compensation/preview.ts";
import { LocalCalendar, parseWindow } from "../core/compensation/time.ts";
import { conflict, notFound } from "../core/errors.ts";
import { getIncident } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import { countCompensationLines, timeCompensation } from "../lib/metrics.ts";
import type { CopyValue, Database, Db } from "../storage/database.ts";
import { components, type compRunLines, compRuns } from "../storage/schema.ts";
import { loadPolicy } from "./policies.ts";
import {
  epochMsSql,
  LINE_FIELDS,
  previewInSql,
  previewsInSql,
  rowsDigestSql,
  type SqlPreviewCounts,
} from "./preview-sql.ts";

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

export function createPreview(
  database: Database,
  workspaceId: string,
  input: PreviewInput,
  actor: string | null,
  now: Date,
): Promise<Run> {
  return timeCompensation("preview", async () => {
    const run = await preview(database, workspaceId, input, actor, now);
    countCompensationLines("preview", Number(run.summary.lines ?? 0));
    return run;
  });
}

async function preview(
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
  /** the SQL preview fingerprints its lines as it writes them, sparing a second read */
  let linesDigest: string | undefined;
  let totals = emptyTotals();
  const counts: Counts = {
    customers: 0,
    affected: 0,
    excluded: 0,
    excluded_reasons: {},
    review: 0,
    notifications: 0,
  };

  await database
    .transaction(async (tx) => {
      // A large preview aggregates hundreds of thousands of customers: in memory, not on disk
      // (on a server; embedded, memory once grown stays with the process). Its statements run
      // once over a million rows; compiling them (JIT) cost more than it saved.
      if (tx.kind === "postgres") await tx.query("set local work_mem = '256MB'");
      await tx.query("set local jit = off");
      // Read before the data: a change committed in between then shows as a newer version.
      const [usage] = await tx.query<{ version: number }>(
        "select version from usage_versions where workspace_id = $1",
        [workspaceId],
      );
      await tx.db.insert(compRuns).values({
        usageVersion: Number(usage?.version ?? 0),
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
        const {
          money,
          units,
          lines,
          linesDigest: digest,
          ...sqlCounts
        } = await previewInSql(tx, policy, {
          workspaceId,
          runId,
          incidentId: incident.id,
          window,
          asOf: base.asOf,
          detectedAt: base.incident.detectedAt,
          components: roots.length ? [...new Set([...roots, ...below])] : null,
        });
        Object.assign(counts, sqlCounts, { excluded_reasons: sortKeys(sqlCounts.excluded_reasons) });
        totals = { money, units, lines };
        linesDigest = digest;
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
      const previewHash = await previewDigest(tx, workspaceId, runId, summary, linesDigest);
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

/** What a preview's summary counts besides its totals. */
type Counts = Omit<SqlPreviewCounts, "lines" | "money" | "units" | "linesDigest">;

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
  counts: Counts,
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
  const sample = new ExclusionSample();
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
      writing = writeResults(tx, workspaceId, runId, unwritten, policy.notify.when_nothing_due, sample);
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
  await writeResults(tx, workspaceId, runId, unwritten, policy.notify.when_nothing_due, sample);
  counts.excluded_reasons = sample.sorted();
  await tx.query("close candidates");
}

/**
 * Everyone a run tells, with whether nothing is due to them: the customers with lines (told
 * what they got) and those the preview stored as owed nothing. `ws` and `run` are placeholders;
 * `customers`, a condition on `customer_id`, narrows it to some.
 */
export const toldSql = (ws: string, run: string, customers = "true") =>
  `select customer_id, bool_and(nothing_due) as nothing_due from (
     select customer_id, false as nothing_due from comp_run_lines where workspace_id = ${ws} and run_id = ${run} and ${customers}
     union all
     select customer_id, true from comp_run_notices where workspace_id = ${ws} and run_id = ${run} and ${customers}
   ) told group by customer_id`;

/**
 * A fingerprint of what a preview stored (its run left out), the same whichever way it was
 * computed (rowsDigestSql): nothing is read back into JavaScript. `linesDigest`, when the SQL
 * preview took it as it wrote the lines, spares reading them again.
 */
async function previewDigest(
  tx: Database,
  workspaceId: string,
  runId: string,
  summary: object,
  linesDigest?: string,
) {
  const digest = (columns: readonly string[], table: string) =>
    `(select ${rowsDigestSql(columns)} from ${table} where workspace_id = $1 and run_id = $2)`;
  const [rows] = await tx.query<Record<string, string>>(
    `select ${linesDigest === undefined ? digest(LINE_FIELDS, "comp_run_lines") : "$3::text"} as lines,
       ${digest(["type", "customer_id", "reference", "reason", "detail", "key"], "comp_run_items")} as items,
       ${digest(["customer_id"], "comp_run_notices")} as notices`,
    [workspaceId, runId, ...(linesDigest === undefined ? [] : [linesDigest])],
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
  sample: ExclusionSample,
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
    for (const e of sample.take(r.excluded))
      items.push(["excluded", e.customerId, e.reference, e.reason, null, null]);
    for (const v of r.review) items.push(["review", v.customerId, v.reference, v.reason, v.detail, v.key]);
    const n = noticeOf(r, whenNothingDue);
    if (n?.nothingDue) notices.push([workspaceId, runId, n.customerId]);
  }
  const column = (i: number) => items.map((item) => item[i]);
  await Promise.all([
    tx.copyRows("comp_run_lines", ["workspace_id", "run_id", ...LINE_FIELDS], lines),
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
