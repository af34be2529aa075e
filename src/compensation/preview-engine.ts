/**
 * The preview of any policy through the pure engine: the candidates (sessions or charges touching
 * the window) stream through a cursor ordered by customer, each customer is evaluated, and lines,
 * excluded and review items and notices are written in bulk. Memory holds one batch of customers
 * at a time. The policies SQL can express are previewed by SQL instead (preview-sql.ts).
 */
import type {
  CompCharge,
  CompCustomer,
  CompSession,
  CustomerResult,
  EngineContext,
} from "../core/compensation/engine.ts";
import { evaluateCustomer, possibleKeys, refundTarget } from "../core/compensation/engine.ts";
import { addToTotals, ExclusionSample, noticeOf, type Totals } from "../core/compensation/preview.ts";
import type { CopyValue, Database } from "../storage/database.ts";
import { epochMsSql, LINE_FIELDS, type SqlPreviewCounts } from "./preview-sql.ts";

/** Charges this long before and after a billing-fault window are read to find originals and late duplicates. */
const CHARGE_MARGIN_MS = 7 * 86_400_000;
/** Candidate rows per fetch: the unit of the preview's pipeline. */
const FETCH = 10_000;
/** Customers evaluated between two yields to the event loop. */
const YIELD_EVERY = 250;

/** Epoch milliseconds, selected as such (epochMsSql): cheaper than a Date per row. */
const msOf = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** What a preview's summary counts besides its totals. */
export type Counts = Omit<SqlPreviewCounts, "lines" | "money" | "units" | "linesDigest">;

/**
 * The preview of any policy: the candidates (sessions or charges touching the window) stream
 * through a cursor, ordered by customer, into the pure engine, and the results are written in
 * bulk while the next rows are fetched.
 */
export async function previewInEngine(
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
