/**
 * The preview of the commonest policy shapes, computed by PostgreSQL: session refunds (whole
 * charge, pro rata, a percentage) chosen by conditions on the overlap, plan, region and kind,
 * and credits per customer (a fixed amount of money or of units such as minutes), under a cap
 * per customer on a fixed amount. A large outage's preview is then a scan and three inserts
 * instead of shipping every session to JavaScript and every line back.
 *
 * The pure engine (core/compensation/engine.ts) stays the definition: this is a translation of
 * what it does for that shape, and the property tests in test/compensation/preview-sql.test.ts
 * hold the two equal on random sessions and policies. Any policy outside the shape goes
 * through the engine.
 */

import { levelOf } from "../core/compensation/engine.ts";
import type { Amount, Condition, Policy, Rule } from "../core/compensation/policy.ts";
import { checkTotal, EXCLUDED_SAMPLE } from "../core/compensation/preview.ts";
import { parseDuration } from "../core/compensation/time.ts";
import { parseDecimal } from "../core/money.ts";
import type { Database } from "../storage/database.ts";

/** Whether the preview of this policy can be computed in SQL. */
export function previewsInSql(policy: Policy): boolean {
  if (policy.match.billing_fault || policy.downtime !== "overlap") return false;
  if (policy.groups || !policy.rules) return false;
  // A cap on a fixed amount per customer; one on the monthly fee or per month goes to the engine.
  if (policy.cap?.per_customer_per_month || policy.cap?.per_customer?.pct_of_monthly_fee !== undefined)
    return false;
  return policy.rules.every((r) =>
    levelOf(r) === "session"
      ? r.max_per_customer === undefined && r.action.refund !== undefined && r.action.refund !== "duplicates"
      : // (a customer is one target: a rule's max_per_customer never binds)
        r.action.credit !== undefined || r.action.fixed !== undefined,
  );
}

export interface SqlPreviewInput {
  workspaceId: string;
  runId: string;
  incidentId: string;
  window: { start: number; end: number };
  asOf: number;
  detectedAt: number;
  /** the components a session must be on (the roots and all below them); null: any */
  components: string[] | null;
}

/** A run line's columns after its workspace and run, in the table's order. */
export const LINE_FIELDS = [
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
] as const;

/**
 * A fingerprint of a set of rows, whatever their order: each row hashed by its columns' own hash
 * functions (several times cheaper than hashing its text), the hashes combined by XOR.
 */
export const rowsDigestSql = (columns: readonly string[]) =>
  `coalesce(bit_xor(hash_record_extended(row(${columns.join(", ")}), 0)), 0)::text`;

export interface SqlPreviewCounts {
  customers: number;
  affected: number;
  excluded: number;
  /** every excluded item by reason: the run stores a sample of each (EXCLUDED_SAMPLE) */
  excluded_reasons: Record<string, number>;
  review: number;
  notifications: number;
  lines: number;
  money: Record<string, number>;
  /** rowsDigestSql of the lines written, as the run's hash takes it */
  units: Record<string, number>;
  linesDigest: string;
}

/**
 * A timestamp as whole epoch milliseconds, floored, as the engine counts time: whole seconds
 * and the microseconds within them, each exact in float8 (unlike the epoch with its fraction,
 * which is not from 2041 on), and cheaper than numeric's extract().
 */
export const epochMsSql = (column: string) =>
  `(date_part('epoch', date_trunc('second', ${column}))::int8 * 1000 + (date_part('microseconds', ${column})::int8 % 1000000) / 1000)`;

/** Collects parameters as it is asked for their placeholders. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * `a × b / den` rounded to an integer as money.ts's round does (all non-negative). In int8
 * when the product fits (`fits`), which is nearly always and several times faster than
 * numeric; in numeric, exact, otherwise.
 */
function roundedDiv(a: string, b: string, den: string, fits: string, rounding: Policy["rounding"]) {
  const rounded = (q: string, r: string) => {
    const tie = rounding === "half_up" ? "true" : `${q} % 2 = 1`;
    return `(${q} + case when 2 * ${r} > ${den} or (2 * ${r} = ${den} and ${tie}) then 1 else 0 end)::int8`;
  };
  const small = rounded(`(${a} * ${b} / ${den})`, `(${a} * ${b} % ${den})`);
  const big = rounded(`div(${a}::numeric * ${b}, ${den})`, `mod(${a}::numeric * ${b}, ${den})`);
  return `case when ${fits} then ${small} else ${big} end`;
}

function condition(when: Condition | undefined, p: Params): string {
  if (!when) return "true";
  const parts: string[] = [];
  const ms = (d: string) => `${p.add(parseDuration(d))}::int8`;
  if (when.overlap_gt) parts.push(`ov > ${ms(when.overlap_gt)}`);
  if (when.overlap_gte) parts.push(`ov >= ${ms(when.overlap_gte)}`);
  if (when.overlap_lt) parts.push(`ov < ${ms(when.overlap_lt)}`);
  if (when.overlap_lte) parts.push(`ov <= ${ms(when.overlap_lte)}`);
  // With downtime: overlap, a session's downtime is its overlap.
  if (when.downtime_gte) parts.push(`ov >= ${ms(when.downtime_gte)}`);
  if (when.downtime_lt) parts.push(`ov < ${ms(when.downtime_lt)}`);
  if (when.plan) parts.push(`plan = any(${p.add(when.plan)}::text[])`);
  if (when.region) parts.push(`region = any(${p.add(when.region)}::text[])`);
  if (when.kind) parts.push(`kind = any(${p.add(when.kind)}::text[])`);
  return parts.length ? parts.join(" and ") : "true";
}

function refundAmount(rule: Rule, policy: Policy): string {
  const refund = rule.action.refund!;
  if (refund === "session_charge") return "charge";
  if (refund === "prorata_overlap") {
    const fits = "charge <= 2147483647 and ov <= 2147483647";
    return `case when len > 0 then ${roundedDiv("charge", "ov", "len", fits, policy.rounding)} else charge end`;
  }
  if (typeof refund === "object") {
    const { num, den } = parseDecimal(refund.percent);
    // Literals: int8 when small, numeric when a percentage has many digits (never in int8 then).
    const large = num > 2n ** 62n || den * 100n > 2n ** 62n;
    const fits = large ? "false" : num === 0n ? "true" : `charge <= ${2n ** 62n / num}`;
    return roundedDiv("charge", `${num}`, `${den * 100n}`, fits, policy.rounding);
  }
  throw new Error(`refund ${String(refund)} is not previewed in SQL`);
}

/**
 * With `combine: sum`, the exact sum of the rules that hold as one fraction `num / den` in
 * numeric, so that the line rounds once (as the engine does): each rule's amount over the
 * common denominator `len × L`, L the least common multiple of the percentages' denominators.
 */
function exactSum(rules: Rule[], holds: string[]): { num: string; den: string } {
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
  const pctDen = (r: Rule) =>
    typeof r.action.refund === "object" ? parseDecimal(r.action.refund.percent).den * 100n : 1n;
  const l = rules.reduce((acc, r) => (acc / gcd(acc, pctDen(r))) * pctDen(r), 1n);
  const len = "greatest(len, 1)::numeric";
  const terms = rules.map((r, i) => {
    const refund = r.action.refund!;
    const term =
      refund === "session_charge"
        ? `charge::numeric * ${len} * ${l}`
        : refund === "prorata_overlap"
          ? `case when len > 0 then charge::numeric * ov * ${l} else charge::numeric * ${l} end`
          : typeof refund === "object"
            ? `charge::numeric * ${parseDecimal(refund.percent).num * (l / pctDen(r))} * ${len}`
            : undefined;
    if (term === undefined) throw new Error(`refund ${String(refund)} is not previewed in SQL`);
    return `case when ${holds[i]} then ${term} else 0 end`;
  });
  return { num: terms.join(" + "), den: `(${len} * ${l})` };
}

/**
 * An amount in the row's currency as SQL, null where it names none (rules.ts's amountIn; a
 * row's currency is never null here).
 */
function amountInSql(amount: Amount, policy: Policy, p: Params): string {
  if (typeof amount === "number") {
    const n = `${p.add(amount)}::int8`;
    return policy.currency ? `case when currency = ${p.add(policy.currency)}::text then ${n} end` : n;
  }
  const cases = Object.entries(amount).map(([c, n]) => `when ${p.add(c)}::text then ${p.add(n)}::int8`);
  return cases.length ? `case currency ${cases.join(" ")} end` : "null::int8";
}

/**
 * A customer's refunds in one currency, capped: left as they are when they add up to no more
 * than the limit; else the limit is spread over them by largest remainder, ties to the earlier
 * session (money.ts's allocate, over the lines in the engine's order). Where the cap names no
 * amount in the currency, nothing is paid and nothing taken back. Exact in numeric.
 */
const capSql = (limit: string, source: string, capped: string) => `
  select *, case when not ${capped} then pre
      when lim is null then least(refunded, pre)
      when total <= lim then pre
      else share + case when rank <= lim - sum(share) over w then 1 else 0 end end as target,
    ${capped} and lim is null as no_cap_amount
  from (
    select *, row_number() over (w order by remainder desc, start_ms, id collate "C") as rank
    from (
      select *, div(lim::numeric * pre, nullif(total, 0))::int8 as share, mod(lim::numeric * pre, nullif(total, 0)) as remainder
      from (select *, ${limit} as lim, sum(pre) over (partition by customer_id, currency, ${capped}) as total from ${source}) l
    ) r
    window w as (partition by customer_id, currency, ${capped})
  ) c
  window w as (partition by customer_id, currency, ${capped})`;

/**
 * A breakdown part as JSON text, cast once per line: rule ids need no escaping (the schema
 * allows letters, digits, '_', '.' and '-'), and building jsonb per part cost far more.
 */
const breakdownPart = (rule: string, amount: string) =>
  `'{"rule": "' || ${rule} || '", "amount": ' || ${amount} || '}'`;

/** What Amends already applied of this incident, per action key. */
const appliedByKeySql = (ws: string, incident: string) => `
  select action_key, sum(amount)::int8 as total from ledger_entries
  where workspace_id = ${ws} and incident_id = ${incident} group by action_key`;

/**
 * Credits per customer (targets.ts's customer target): each customer with a session the
 * incident hit, their downtime the union of those sessions' overlaps, their currency their own
 * or their first such session's. One row per line (per kind of credit) with the columns of the
 * session rows, and one per rule that holds but names no amount in the customer's currency.
 * Reads `judged` (with `ov`); gives the CTEs that end in `credit`.
 */
function creditRowsSql(
  rules: Rule[],
  policy: Policy,
  c: {
    p: Params;
    ws: string;
    incident: string;
    windowStart: string;
    asOf: number;
    combine: NonNullable<Policy["combine"]>;
  },
): { ctes: string } {
  const { p } = c;
  const text = (v: string | null) => `${p.add(v)}::text`;
  const iso = (d: string | undefined) =>
    text(d === undefined ? null : new Date(c.asOf + parseDuration(d)).toISOString());
  const evaluated = rules.map((r, i) => {
    const credit = r.action.credit;
    const unit = credit && "unit" in credit ? credit : undefined;
    const amount = unit
      ? `${p.add(unit.amount)}::int8`
      : amountInSql(credit ? (credit as { amount: Amount }).amount : r.action.fixed!, policy, p);
    return {
      i,
      id: text(r.id),
      holds: `(${condition(r.when, p)}) as h${i}`,
      amount: `(${amount}) as a${i}`,
      matched: `(h${i} and a${i} is not null)`,
      kind: unit ? `unit_credit:${unit.unit}` : "credit",
      unit: unit?.unit ?? null,
      scope: unit
        ? unit.scope === "home_city" || !unit.scope
          ? "home_region"
          : text(unit.scope)
        : "null::text",
      expiresAt: iso(credit?.valid_for),
      visibleBy: iso(unit?.visible_within),
    };
  });
  type Evaluated = (typeof evaluated)[number];
  const firstMatch = `case ${evaluated.map((e) => `when ${e.matched} then ${e.i}`).join(" ")} end`;
  const byLead = (list: Evaluated[], value: (e: Evaluated) => string) =>
    `case lead ${list.map((e) => `when ${e.i} then ${value(e)}`).join(" ")} end`;

  // One select per kind of credit: the line's rule (its scope and validity) is its first part's.
  const kinds = new Map<string, Evaluated[]>();
  for (const e of evaluated) kinds.set(e.kind, [...(kinds.get(e.kind) ?? []), e]);
  const lines = [...kinds.values()].map((list) => {
    const any = list.map((e) => e.matched).join(" or ");
    const best = `greatest(${list.map((e) => `case when ${e.matched} then a${e.i} end`).join(", ")})`;
    const pick =
      c.combine === "first_match"
        ? { lead: "fpick", where: `fpick in (${list.map((e) => e.i).join(", ")})` }
        : c.combine === "max"
          ? {
              lead: `case ${list.map((e) => `when ${e.matched} and a${e.i} = ${best} then ${e.i}`).join(" ")} end`,
              where: any,
            }
          : { lead: `case ${list.map((e) => `when ${e.matched} then ${e.i}`).join(" ")} end`, where: any };
    const parts =
      c.combine === "sum"
        ? {
            amount: list.map((e) => `case when ${e.matched} then a${e.i} else 0 end`).join(" + "),
            rule: `concat_ws('+', ${list.map((e) => `case when ${e.matched} then ${e.id} end`).join(", ")})`,
            parts: `concat_ws(', ', ${list.map((e) => `case when ${e.matched} then ${breakdownPart(e.id, `a${e.i}`)} end`).join(", ")})`,
          }
        : {
            amount: byLead(list, (e) => `a${e.i}`),
            rule: byLead(list, (e) => e.id),
            parts: breakdownPart(
              byLead(list, (e) => e.id),
              byLead(list, (e) => `a${e.i}`),
            ),
          };
    const unit = list[0]!.unit;
    const key = unit === null ? "credit" : `credit_${unit}`;
    return `
      select customer_id, ${unit === null ? "currency" : "null::text"} as currency, ${c.incident} || ':' || customer_id || ':' || ${text(key)} as key,
        ${parts.amount} as amount, ${parts.rule} as rule, ${parts.parts} as parts,
        ${unit === null ? "'credit'" : "'unit_credit'"}::text as kind, ${text(unit)} as unit, ${byLead(list, (e) => e.scope)} as scope,
        ${byLead(list, (e) => e.expiresAt)} as expires_at, ${byLead(list, (e) => e.visibleBy)} as visible_by
      from (select *, ${pick.lead} as lead from credit_eval where ${pick.where}) l`;
  });
  // A rule that holds with no amount in the customer's currency is excluded, if it was reached.
  const noAmount = evaluated
    .filter((e) => e.unit === null)
    .map((e) => {
      const earlier = evaluated.slice(0, e.i).map((x) => x.matched);
      const reached =
        c.combine === "first_match" && earlier.length ? ` and not (${earlier.join(" or ")})` : "";
      return `select customer_id, currency from credit_eval where h${e.i} and a${e.i} is null${reached}`;
    });

  const ctes = `
    credit_customer as (
      select u.customer_id, coalesce(cu.currency, u.first_currency) as currency, coalesce(cu.plan, '') as plan,
        coalesce(cu.home_region, '') as region, cu.home_region, ''::text as kind, u.ov
      from (
        -- the union of the overlaps: each session adds what it reaches past those that began before it
        select customer_id, sum(greatest(0, cs + ov - greatest(cs, coalesce(reached, cs))))::int8 as ov,
          (array_agg(currency order by start_ms, id collate "C"))[1] as first_currency
        from (
          select *, max(cs + ov) over (partition by customer_id order by cs rows between unbounded preceding and 1 preceding) as reached
          from (select customer_id, id, currency, start_ms, ov, greatest(start_ms, ${c.windowStart}) as cs from judged where skip is null) h
        ) i
        group by customer_id
      ) u
      left join customers cu on cu.workspace_id = ${c.ws} and cu.id = u.customer_id
    ),
    credit_eval as (
      select *${c.combine === "first_match" ? `, ${firstMatch} as fpick` : ""}
      from (select *, ${evaluated.map((e) => `${e.holds}, ${e.amount}`).join(", ")} from credit_customer offset 0) e
    ),
    credit_line as (${lines.join(" union all ")}),
    credit as (
      select customer_id as id, customer_id, currency, 0::int8 as refunded, ${AFTER_EVERY_SESSION} as start_ms,
        null::text as skip, true as affected, key, 0 as pick, amount as uncapped, rule, parts, amount,
        coalesce(a.total, 0) as applied, true as draft, null::text as reason, null::text as due_by,
        kind, unit, scope, expires_at, visible_by
      from credit_line left join (${appliedByKeySql(c.ws, c.incident)}) a on a.action_key = credit_line.key
      ${noAmount
        .map(
          (sql) => `union all
      select customer_id, customer_id, currency, 0, ${AFTER_EVERY_SESSION}, 'no_amount_for_currency', true, null, 0, null, null, null, null,
        0, false, null, null, 'credit', null, null, null, null
      from (${sql}) n`,
        )
        .join("\n      ")}
    )`;
  return { ctes };
}

/** A customer's credit comes after their sessions' refunds where a cap's remainders tie. */
const AFTER_EVERY_SESSION = "9223372036854775807::int8";

/**
 * Writes the run's lines, excluded and review items and notices, as the engine would, and
 * returns what the run's summary counts. Runs inside the preview's transaction.
 */
export async function previewInSql(
  tx: Database,
  policy: Policy,
  input: SqlPreviewInput,
): Promise<SqlPreviewCounts> {
  const p = new Params();
  const text = (value: string) => `${p.add(value)}::text`;
  const ws = text(input.workspaceId);
  const incident = text(input.incidentId);
  const from = `${p.add(new Date(input.window.start).toISOString())}::timestamptz`;
  const to = `${p.add(new Date(input.window.end).toISOString())}::timestamptz`;
  const int = (value: number) => `${p.add(value)}::int8`;
  const w = { start: int(input.window.start), end: int(input.window.end) };
  const asOf = int(input.asOf);
  const m = policy.match;

  // The customer is joined only when the policy reads them: plan, or home region (a session
  // without a region of its own is in its customer's).
  const rules = policy.rules!;
  const sessionRules = rules.filter((r) => levelOf(r) === "session");
  const creditRules = rules.filter((r) => levelOf(r) === "customer");
  const needsCustomer =
    !!m.plans ||
    (!!m.regions && !m.regions.includes("*")) ||
    sessionRules.some((r) => r.when?.plan || r.when?.region);
  const mismatch = [
    m.session_kinds && `when not t.kind = any(${p.add(m.session_kinds)}::text[]) then 'kind_mismatch'`,
    input.components &&
      `when t.component_id is null or not t.component_id = any(${p.add(input.components)}::text[]) then 'component_mismatch'`,
    m.regions &&
      !m.regions.includes("*") &&
      `when not coalesce(t.region, c.home_region, '') = any(${p.add(m.regions)}::text[]) then 'region_mismatch'`,
    m.plans && `when not coalesce(c.plan, '') = any(${p.add(m.plans)}::text[]) then 'plan_mismatch'`,
  ].filter(Boolean);

  // Per session rule: does it hold, and how much. The engine stops at the first rule that holds
  // (first_match), adds all that hold (sum), or keeps the first of the largest (max).
  const holds = sessionRules.map((r) => `(${condition(r.when, p)})`);
  const amounts = sessionRules.map((r) => `(${refundAmount(r, policy)})`);
  const ids = sessionRules.map((r) => p.add(r.id));
  const reasons = sessionRules.map((r) => p.add(r.action.reason ?? null));
  const dueBys = sessionRules.map((r) =>
    p.add(
      r.action.due_within
        ? new Date(input.detectedAt + parseDuration(r.action.due_within)).toISOString()
        : null,
    ),
  );
  const combine = policy.combine ?? "first_match";
  const when = (h: string, then: string, otherwise = "") =>
    `case when ${h} then ${then}${otherwise && ` else ${otherwise}`} end`;
  // The rule named in the line (its reason, its deadline): the first that holds, or with max,
  // the first of the largest.
  const best = `greatest(${holds.map((h, i) => when(h, amounts[i]!)).join(", ")})`;
  const pick = sessionRules.length
    ? `case ${holds
        .map((h, i) => `when ${h}${combine === "max" ? ` and ${amounts[i]} = ${best}` : ""} then ${i}`)
        .join(" ")} end`
    : "null::int";
  const byPick = (values: string[], type: string) =>
    values.length
      ? `case pick ${values.map((v, i) => `when ${i} then ${v}`).join(" ")} end`
      : `null::${type}`;
  const sum = combine === "sum" && sessionRules.length ? exactSum(sessionRules, holds) : undefined;
  const chosen = sum
    ? `${roundedDiv("sum_num", "1", "sum_den", "false", policy.rounding)} as uncapped,
         concat_ws('+', ${holds.map((h, i) => when(h, `${ids[i]}::text`)).join(", ")}) as rule,
         concat_ws(', ', ${holds.map((h, i) => when(h, breakdownPart(`${ids[i]}::text`, amounts[i]!))).join(", ")}) as parts`
    : `${byPick(amounts, "int8")} as uncapped, ${byPick(
        ids.map((id) => `${id}::text`),
        "text",
      )} as rule`;
  const minOverlap = int(m.min_overlap === undefined ? 1 : parseDuration(m.min_overlap));
  const capLimit =
    policy.cap?.per_customer?.amount !== undefined && amountInSql(policy.cap.per_customer.amount, policy, p);
  // Where the rows a cap spreads over and the lines' values are: with credits, the sessions'
  // refunds and the customers' credits side by side.
  const credits = creditRules.length
    ? creditRowsSql(creditRules, policy, { p, ws, incident, windowStart: w.start, asOf: input.asOf, combine })
    : undefined;
  const target = capLimit ? "pre" : "target";
  const drafts = credits ? "drafted" : "headroom";

  // Each stage ends in "offset 0", which keeps PostgreSQL from folding it into the next: a
  // value used many times further on (the overlap, the rule picked) is then computed once.
  const outcomeSql = `
    with candidate as (
      select id, customer_id, kind, charge, currency, refunded, plan, region, mismatch, start_ms,
        end_ms - start_ms as len, greatest(0, least(end_ms, ${w.end}) - greatest(start_ms, ${w.start})) as ov
      from (
        select t.id, t.customer_id, t.kind, t.charge, t.currency, t.refunded,
          ${needsCustomer ? "coalesce(c.plan, '') as plan, coalesce(t.region, c.home_region, '')" : "'' as plan, coalesce(t.region, '')"} as region,
          ${mismatch.length ? `case ${mismatch.join(" ")} end` : "null::text"} as mismatch,
          ${epochMsSql("t.started_at")} as start_ms, coalesce(${epochMsSql("t.ended_at")}, ${asOf}) as end_ms
        from usage_sessions t
        ${needsCustomer ? "left join customers c on c.workspace_id = t.workspace_id and c.id = t.customer_id" : ""}
        where t.workspace_id = ${ws} and t.started_at <= ${to}
          and (t.ended_at is null or t.ended_at >= ${from} and t.started_at >= coalesce(
            (select ${from} - b.longest_session_ms * interval '1 millisecond' from usage_bounds b where b.workspace_id = ${ws}),
            '-infinity'))
        offset 0
      ) times
      offset 0
    ),
    judged as (
      select id, customer_id, currency, refunded, charge, start_ms, ${credits ? "ov, " : ""}skip, affected, key, pick, ${chosen}
      from (
        select *,
          coalesce(mismatch, case when ov = 0 then 'no_overlap' when ov < ${minOverlap} then 'below_min_overlap' end) as skip,
          mismatch is null and ov > 0 as affected,
          ${incident} || ':' || id || ':refund' as key,
          ${pick} as pick${sum ? `, ${sum.num} as sum_num, ${sum.den} as sum_den` : ""}
        from candidate
        offset 0
      ) x
    ),
    headroom as (
      -- A refund's headroom: the charge less what Amends refunded of it for other incidents.
      select j.*, least(j.uncapped, greatest(0, j.charge - coalesce(o.total, 0))) as ${target},
        coalesce(a.total, 0) as applied, j.skip is null and j.pick is not null as draft,
        ${byPick(
          reasons.map((r) => `${r}::text`),
          "text",
        )} as reason, ${byPick(
          dueBys.map((d) => `${d}::text`),
          "text",
        )} as due_by
      from judged j
      left join (${appliedByKeySql(ws, incident)}) a on j.skip is null and j.pick is not null and a.action_key = j.key
      left join (
        select refund_of, sum(amount)::int8 as total from ledger_entries
        where workspace_id = ${ws} and refund_of like 'session:%' and incident_id <> ${incident} group by refund_of
      ) o on j.skip is null and j.pick is not null and o.refund_of = 'session:' || j.id
    )${
      credits
        ? `, ${credits.ctes},
    drafted as (
      select id, customer_id, currency, refunded, start_ms, skip, affected, key, pick, uncapped, rule,
        ${sum ? "parts" : "null::text as parts"}, ${target}, applied, draft, reason, due_by, 'refund'::text as kind,
        null::text as unit, null::text as scope, null::text as expires_at, null::text as visible_by, draft as money
      from headroom
      union all
      select *, draft and kind <> 'unit_credit' from credit
    )`
        : ""
    }${capLimit ? `, capped as (${capSql(capLimit, drafts, credits ? "money" : "draft")})` : ""}
    -- Only what the writes and counts below read: this table holds every candidate.
    select id, customer_id, currency, key, rule, uncapped,${sum || credits ? " parts," : ""} reason, due_by, target, applied, refunded,
      due, paid, affected,${credits ? " kind, unit, scope, expires_at, visible_by," : ""}
      case when paid then null when skip is not null then skip
        when pick is null then ${sessionRules.length ? "'no_rule_matched'" : "null"}
        when due < 0 then 'negative_delta' when applied > 0 then 'already_compensated'${
          capLimit
            ? " when no_cap_amount then 'no_amount_for_currency' when target < pre then 'cap_reached'"
            : ""
        } else 'already_refunded' end as item
    from (
      select *, target - applied - refunded as due, draft and target - applied - refunded > 0 as paid
      from ${capLimit ? "capped" : drafts}
    ) u`;
  // A read-only statement may run in parallel workers, one that writes may not: the outcome
  // is read first, into a table of the transaction's own. PostgreSQL's default costs rate
  // gathering a million rows from workers above reading them alone; here the leader writes
  // them all anyway, so gathering is cheap next to it.
  if (tx.kind === "postgres")
    await tx.query("set local parallel_setup_cost = 0; set local parallel_tuple_cost = 0.001");
  await tx.query(`create temp table preview_outcome on commit drop as ${outcomeSql}`, p.values);

  const q = new Params();
  const whenNothingDue = `${q.add(policy.notify.when_nothing_due)}::boolean`;
  const qws = `${q.add(input.workspaceId)}::text`;
  const qrun = `${q.add(input.runId)}::text`;
  // Every excluded item is counted, a sample of each reason stored (the first by customer then
  // reference, as the engine keeps them: a top-N per reason, not a sort of them all). A customer
  // this incident already paid and owes nothing more is not told again (noticeOf).
  const kinds = credits ? "kind, unit" : "'refund'::text as kind, null::text as unit";
  const sql = `
    with outcome as materialized (select * from preview_outcome),
    line as materialized (
      select key, customer_id, ${kinds}, due as amount, currency, target,
        applied as already_applied, refunded as refunded_elsewhere, 'rules'::text as policy_group, rule,
        ('[' || ${sum || credits ? `coalesce(parts, ${breakdownPart("rule", "uncapped")})` : breakdownPart("rule", "uncapped")} || ']')::jsonb as breakdown,
        ${credits ? "case when kind = 'refund' then id end" : "id"} as session, null::text as charge, reason, due_by,
        ${credits ? "scope, expires_at, visible_by" : "null::text as scope, null::text as expires_at, null::text as visible_by"}
      from outcome where paid
    ),
    lines as (
      insert into comp_run_lines (workspace_id, run_id, ${LINE_FIELDS.join(", ")})
      select ${qws}, ${qrun}, ${LINE_FIELDS.join(", ")} from line
    ),
    reasons as (select item, count(*)::int as n from outcome where item is not null group by item),
    stored_items as (
      insert into comp_run_items (workspace_id, run_id, type, customer_id, reference, reason, detail, key)
      (select ${qws}, ${qrun}, 'review', customer_id, id, item, 'target ' || target || ' is below what was already paid ('
          || applied || ' by Amends, ' || refunded || ' elsewhere); nothing is taken back', key
        from outcome where item = 'negative_delta'
        -- a session that shares its customer's id is one reference with them: the session's
        -- item is kept, as the engine writes it first
        ${credits ? "order by customer_id, id, kind <> 'refund'" : ""})
      union all
      select ${qws}, ${qrun}, 'excluded', s.customer_id, s.id, s.item, null, null
        from reasons r cross join lateral (
          select customer_id, id, item from outcome o where o.item = r.item
          order by customer_id collate "C", id collate "C" limit ${EXCLUDED_SAMPLE}
        ) s where r.item <> 'negative_delta'
      on conflict do nothing
    ),
    customer as (
      select customer_id, bool_or(affected) as affected, bool_or(paid) as paid,
        coalesce(bool_or(item = 'already_compensated'), false) as told
      from outcome group by customer_id
    ),
    notices as (
      insert into comp_run_notices (workspace_id, run_id, customer_id)
      select ${qws}, ${qrun}, customer_id from customer where affected and not paid and not told and ${whenNothingDue}
    ),
    customers as (
      select count(*)::int as customers, count(*) filter (where affected)::int as affected,
        count(*) filter (where affected and (paid or not told and ${whenNothingDue}))::int as notifications
      from customer
    )
    select customers, affected, notifications,
      (select coalesce(sum(n), 0) from reasons where item <> 'negative_delta')::int as excluded,
      (select coalesce(jsonb_object_agg(item, n), '{}'::jsonb) from reasons where item <> 'negative_delta') as excluded_reasons,
      (select coalesce(sum(n), 0) from reasons where item = 'negative_delta')::int as review,
      (select coalesce(jsonb_object_agg(currency, total), '{}'::jsonb) from
        (select currency, sum(amount)::text as total from line where unit is null group by currency) t) as money,
      ${
        credits
          ? `(select coalesce(jsonb_object_agg(unit, total), '{}'::jsonb) from
        (select unit, sum(amount)::text as total from line where unit is not null group by unit) t)`
          : "'{}'::jsonb"
      } as units,
      (select count(*) from line)::int as lines,
      (select ${rowsDigestSql(LINE_FIELDS)} from line) as lines_digest
    from customers`;
  const [row] = await tx.query<
    Omit<SqlPreviewCounts, "linesDigest" | "money" | "units"> & {
      money: Record<string, string>;
      units: Record<string, string>;
      lines_digest: string;
    }
  >(sql, q.values);
  const { money, units, lines_digest: linesDigest, ...counts } = row!;
  const checked = (
    totals: Record<string, string>,
    of: (name: string) => { currency: string | null; unit: string | null },
  ) =>
    Object.fromEntries(
      Object.entries(totals).map(([name, text]) => {
        const total = Number(text);
        checkTotal(total, of(name));
        return [name, total];
      }),
    );
  return {
    ...counts,
    linesDigest,
    money: checked(money, (currency) => ({ currency, unit: null })),
    units: checked(units, (unit) => ({ currency: null, unit })),
  };
}
