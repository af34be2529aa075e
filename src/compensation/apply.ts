/**
 * Apply: books an approved run's lines in the ledger exactly once, and queues one message per
 * customer it tells.
 *
 * The work is set-based: a chunk is a range of whole customers (a customer's lines are never
 * split), and one transaction books it with a few statements, whatever its size. Per line the
 * database recomputes what is still owed now, `target − applied − refunded elsewhere`, never above
 * the approved amount (data that changed since the preview can lower a payment, only a new
 * preview can raise it); when nothing changed since (usage_versions: imports and other bookings
 * move it on), the approved amount is what is owed, and nothing is read again. It inserts an
 * entry whose idempotency key (`action@target`) is unique, with its two postings. The chunk's customers get their message in the same transaction, keyed
 * `incident:customer:compensation`, and the run's cursor moves past them. So after a `kill -9`
 * anywhere, a new attempt goes on from the cursor; a chunk done twice (two appliers) finds its
 * entries already there and posts nothing twice.
 */
import { and, eq } from "drizzle-orm";
import { listComponents } from "../components/store.ts";
import { conflict } from "../core/errors.ts";
import { regionNames } from "../core/wording.ts";
import { countCompensationLines, timeCompensation } from "../lib/metrics.ts";
import type { Database } from "../storage/database.ts";
import { compRuns } from "../storage/schema.ts";
import { loadPolicy } from "./policies.ts";
import { getRun, type Run, toldSql } from "./runs.ts";

export interface ApplyOptions {
  /** lines per transaction, at least: a chunk ends with its last customer's last line */
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
  return timeCompensation("apply", () => book(database, workspaceId, run, now, options));
}

/** Books an approved run chunk by chunk. */
async function book(
  database: Database,
  workspaceId: string,
  run: Run,
  now: Date,
  options: ApplyOptions,
): Promise<Run> {
  const runId = run.id;
  const chunk = Math.max(1, options.chunk ?? 1_000);
  const notices = {
    template: (await loadPolicy(database.db, workspaceId, run.policyId, run.policyVersion)).policy.notify
      .template,
    placeNames: await placeNames(database, workspaceId),
  };
  /** this attempt's bookings, for onChunk; the stored summary is read from the ledger at the end */
  let bookedNow = 0;
  for (let last = false; !last; ) {
    const before = bookedNow;
    await database.transaction(async (tx) => {
      // One applier per workspace at a time: two runs must not both pay the same difference,
      // nor two incidents' runs both refund the last of one charge. Under the lock, the cursor
      // is where the last committed chunk ended, whoever committed it.
      await tx.query("select pg_advisory_xact_lock(hashtext($1))", [`amends:apply:${workspaceId}`]);
      const [range] = await tx.query<{ after: string; upto: string | null; unchanged: boolean }>(CHUNK_SQL, [
        workspaceId,
        runId,
        chunk - 1,
      ]);
      const { after, upto, unchanged } = range!;
      last = upto === null;
      const [booked] = await tx.query<{ n: number; messages: number }>(bookSql(upto && "$11", unchanged), [
        workspaceId,
        runId,
        run.incidentId,
        now.toISOString(),
        after,
        notices.template ?? "compensation",
        run.windowStart.toISOString(),
        run.windowEnd.toISOString(),
        run.asOf.toISOString(),
        JSON.stringify(notices.placeNames),
        ...(upto === null ? [] : [upto]),
      ]);
      await tx.query(
        // After the last chunk, the last customer told: progress then counts every line. What it
        // booked bounds other runs' refunds: the workspace's usage version moves on, and this
        // run's with it if nothing else had moved it.
        `with bumped as (
           insert into usage_versions (workspace_id, version) select $1, 1 where $5
           on conflict (workspace_id) do update set version = usage_versions.version + 1 returning version)
         update comp_runs set apply_cursor = coalesce($3, greatest(
                  (select max(customer_id) from comp_run_lines where workspace_id = $1 and run_id = $2),
                  (select max(customer_id) from comp_run_notices where workspace_id = $1 and run_id = $2), '')),
                apply_messages = apply_messages + $4,
                usage_version = coalesce((select version from bumped where $6), usage_version)
          where workspace_id = $1 and id = $2`,
        [workspaceId, runId, upto, booked!.messages, booked!.n > 0, unchanged],
      );
      bookedNow += booked!.n;
    });
    // Counted once committed: an apply that stops half-way still counts what it booked.
    countCompensationLines("apply", bookedNow - before);
    await options.onChunk?.(bookedNow);
  }
  const [updated] = await database.db
    .update(compRuns)
    .set({ status: "applied", appliedAt: now, appliedSummary: await bookedByRun(database, workspaceId, run) })
    .where(and(eq(compRuns.workspaceId, workspaceId), eq(compRuns.id, runId)))
    .returning();
  return updated!;
}

/**
 * The next chunk: customers after the cursor up to the one holding the chunk-th line after it
 * (or the chunk-th customer told that nothing is due, if that comes first); `upto` is null for
 * the last chunk, which takes everyone left. `$3` is the chunk size less one.
 */
const CHUNK_SQL = `
  with r as (
    select coalesce(apply_cursor, '') as after,
      coalesce(usage_version = coalesce((select version from usage_versions where workspace_id = $1), 0), false) as unchanged
    from comp_runs where workspace_id = $1 and id = $2)
  select r.after, r.unchanged, least(
    (select customer_id from comp_run_lines where workspace_id = $1 and run_id = $2 and customer_id > r.after
      order by customer_id offset $3 limit 1),
    (select customer_id from comp_run_notices where workspace_id = $1 and run_id = $2 and customer_id > r.after
      order by customer_id offset $3 limit 1)) as upto
  from r`;

/**
 * The chunk's customers, `(after, upto]`, as a condition on `customer_id` for the placeholders
 * given; without an upper bound for the last chunk (a bound as a plain range keeps it an index range).
 */
const inChunk = (after: string, upto: string | null, column = "customer_id") =>
  upto === null ? `${column} > ${after}` : `${column} > ${after} and ${column} <= ${upto}`;

/**
 * What each line of a chunk still owes now: its amount, lowered by what changed since the
 * preview (the headroom of its session or charge, what was applied or refunded meanwhile).
 * Reads `line`; an apply at the version its preview read takes the amount as it is.
 */
const OWED_NOW = `
    select line.*, least(line.amount,
        case when t.captured is null then line.target
             else least(line.target, greatest(0, t.captured - coalesce(o.total, 0))) end
        - coalesce(a.total, 0)
        - case when t.captured is null then line.refunded_elsewhere else t.refunded end) as pay
    from line
    left join lateral (
      select sum(e.amount)::int8 as total from ledger_entries e where e.workspace_id = $1 and e.action_key = line.key
    ) a on true
    left join lateral (
      select s.charge as captured, s.refunded from usage_sessions s
       where line.kind = 'refund' and line.charge is null and s.workspace_id = $1 and s.id = line.session
      union all
      select c.amount, c.amount_refunded from charges c
       where line.kind = 'refund' and c.workspace_id = $1 and c.id = line.charge
    ) t on true
    left join lateral (
      select sum(e.amount)::int8 as total from ledger_entries e
       where line.kind = 'refund' and e.workspace_id = $1 and e.refund_of = line.refund_of and e.incident_id <> $3
    ) o on true
`;

/**
 * Books one chunk and tells its customers, in one statement. Per line: what it still owes now,
 * then its entry and its two postings. A refund's target is capped by its session's or charge's
 * headroom as it is now (captured, less what Amends refunded of it for other incidents), and what
 * was refunded elsewhere is read again. The postings are `postingsFor` (core/compensation/ledger.ts)
 * in SQL, held equal to it by the runs test.
 *
 * Then one outbox message per told customer and incident, ever: what happened (the incident and
 * its window) and what they got for it over all runs, or that nothing was due. A later run's
 * top-up updates the message while it waits to be sent; once sent, it stays as it was. What the
 * customer got is the ledger as it was before this statement plus the entries it inserts (a
 * statement does not see its own inserts), so nothing is read back. Parameters: $1 workspace,
 * $2 run, $3 incident, $4 now, $5 after, $6 template, $7–$9 window and as-of, $10 place names,
 * `upto` the chunk's last customer. Returns the new entries and the new messages.
 */
const bookSql = (upto: string | null, unchanged: boolean) => `
  with line as (
    select l.*, case when l.charge is not null then 'charge:' || l.charge else 'session:' || l.session end as refund_of
    from comp_run_lines l where l.workspace_id = $1 and l.run_id = $2 and ${inChunk("$5", upto)}
  ),
  owed as (${unchanged ? "select line.*, line.amount as pay from line" : OWED_NOW}),
  entry as (
    insert into ledger_entries (workspace_id, id, idempotency_key, action_key, run_id, incident_id, customer_id,
      kind, amount, currency, refund_of, detail, created_at)
    select $1, 'le_' || replace(gen_random_uuid()::text, '-', ''), key || '@' || target, key, $2, $3, customer_id,
      kind, pay, case when kind = 'unit_credit' then unit || ':' || coalesce(scope, 'any') else currency end,
      case when kind = 'refund' then refund_of end,
      jsonb_build_object('key', key, 'customerId', customer_id, 'kind', kind, 'amount', pay, 'currency', currency,
        'unit', unit, 'target', target, 'alreadyApplied', already_applied, 'refundedElsewhere', refunded_elsewhere,
        'group', policy_group, 'rule', rule, 'breakdown', breakdown, 'session', session, 'charge', charge,
        'reason', reason, 'dueBy', due_by, 'scope', scope, 'expiresAt', expires_at, 'visibleBy', visible_by),
      $4
    from owed where pay > 0
    on conflict (workspace_id, idempotency_key) do nothing
    returning id, customer_id, action_key, kind, amount, currency, detail
  ),
  posting as (
    insert into ledger_postings (workspace_id, entry_id, account, amount, currency)
    select $1, entry.id, p.account, p.amount, entry.currency
    from entry cross join lateral (values
      (case when entry.kind = 'refund' then 'contra_revenue:refunds' else 'expense:make_good:' || $3 end, entry.amount),
      (case entry.kind when 'refund' then 'psp_clearing'
         when 'credit' then 'liability:customer_credit:' || entry.customer_id
         else 'liability:customer_units:' || entry.customer_id end, -entry.amount)
    ) p(account, amount)
  ),
  got as (
    select customer_id, action_key, kind, currency, amount, detail from ledger_entries
     where workspace_id = $1 and ${inChunk("$5", upto)} and incident_id = $3
    union all
    select customer_id, action_key, kind, currency, amount, detail from entry
  ),
  paid as (
    -- One line per action however many runs paid it (a top-up is a second entry).
    select customer_id, jsonb_agg(jsonb_build_object('key', action_key, 'kind', kind, 'amount', amount,
        'currency', currency, 'unit', unit, 'scope', scope, 'expires_at', expires_at, 'visible_by', visible_by,
        'reason', reason) order by action_key) as lines
    from (
      select customer_id, action_key, kind, currency, sum(amount)::int8 as amount, max(detail->>'unit') as unit,
        max(detail->>'scope') as scope, max(detail->>'expiresAt') as expires_at,
        max(detail->>'visibleBy') as visible_by, max(detail->>'reason') as reason
      from got group by customer_id, action_key, kind, currency
    ) k group by customer_id
  ),
  message as (
    insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel, address,
      locale, template, payload, status, created_at)
    select $1, 'msg_' || replace(gen_random_uuid()::text, '-', ''), $3 || ':' || n.customer_id || ':compensation',
      'compensation.granted', $3, n.customer_id, c.channels->0->>'type', c.channels->0->>'address',
      coalesce(c.locale, 'en'), $6,
      jsonb_build_object('incident_id', $3::text, 'incident_title', i.title, 'title_translations', i.title_translations,
        'window_start', $7::text, 'window_end', $8::text, 'run_id', $2::text, 'as_of', $9::text,
        'place_names', $10::jsonb, 'nothing_due', g.lines is null, 'lines', coalesce(g.lines, '[]'::jsonb)),
      case when c.channels->0 is null then 'no_channel' else 'pending' end, $4
    from (${toldSql("$1", "$2", inChunk("$5", upto))}) n
    join incidents i on i.workspace_id = $1 and i.id = $3
    left join customers c on c.workspace_id = $1 and c.id = n.customer_id
    left join paid g on g.customer_id = n.customer_id
    on conflict (workspace_id, idempotency_key) do update set payload = excluded.payload
      where outbox_messages.status in ('pending', 'no_channel')
        and outbox_messages.payload->'lines' is distinct from excluded.payload->'lines'
    returning xmax = 0 as fresh
  )
  select (select count(*)::int from entry) as n, (select count(*) filter (where fresh)::int from message) as messages`;

/**
 * What the run booked, from the ledger rather than from the last attempt's counters: an apply
 * resumed after a crash finds the earlier attempts' entries already there.
 */
async function bookedByRun(database: Database, workspaceId: string, run: Run) {
  const [rows, [lines], [progress]] = await Promise.all([
    database.query<{ unit: string | null; currency: string; n: number; total: number }>(
      `select case when kind = 'unit_credit' then detail->>'unit' end as unit, currency,
              count(*)::int as n, sum(amount)::bigint as total
         from ledger_entries where workspace_id = $1 and run_id = $2
        group by 1, 2`,
      [workspaceId, run.id],
    ),
    database.query<{ n: number }>(
      "select count(*)::int as n from comp_run_lines where workspace_id = $1 and run_id = $2",
      [workspaceId, run.id],
    ),
    database.query<{ messages: number }>(
      "select apply_messages as messages from comp_runs where workspace_id = $1 and id = $2",
      [workspaceId, run.id],
    ),
  ]);
  const stats = {
    entries: 0,
    skipped: 0,
    money: {} as Record<string, number>,
    units: {} as Record<string, number>,
    messages: progress!.messages,
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
