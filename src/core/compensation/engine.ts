/**
 * The compensation engine: from a policy, an incident window and one customer's sessions and
 * charges, the actions that customer is owed, what was left out and why, and what a person
 * must review. Pure and deterministic: same inputs, same output, in the same order.
 *
 * Invariants (asserted by tests, property tests included):
 *  1. an action's key is `incident:target:kind` and never includes the policy version, so a
 *     re-run pays only `target − already applied − refunded elsewhere`, and only when positive;
 *     a negative difference goes to review, never to an automatic claw-back;
 *  2. per charge or session, refunds never exceed what was captured: refunds made elsewhere and
 *     Amends' refunds for other incidents leave only the rest (`headroom`);
 *  3. amounts are integers; a line keeps its rules' exact fractions and rounds once;
 *  4. a session that ends exactly when the window starts, or starts when it ends, is unaffected;
 *  5. a customer's money within a capped group, per currency, never exceeds the cap.
 */
import { add, allocate, compare, type Fraction, fraction, mul, parseDecimal, round } from "../money.ts";
import {
  type Action,
  type Amount,
  type Cap,
  type Condition,
  type Group,
  type Policy,
  policyGroups,
  type Rule,
} from "./policy.ts";
import {
  coveredMs,
  type Interval,
  LocalCalendar,
  MINUTE,
  mergeIntervals,
  overlapMs,
  parseDuration,
  parseWindow,
  type Temporal,
} from "./time.ts";

export interface CompCustomer {
  id: string;
  homeRegion: string | null;
  plan: string | null;
  monthlyFee: number | null;
  currency: string | null;
}

export interface CompSession {
  id: string;
  customerId: string;
  kind: string;
  componentId: string | null;
  region: string | null;
  start: number;
  /** null while the session is still running */
  end: number | null;
  charge: number;
  currency: string;
  /** refunded outside Amends (e.g. by support) */
  refunded: number;
}

export interface CompCharge {
  id: string;
  customerId: string;
  usageRef: string | null;
  amount: number;
  currency: string;
  status: string;
  createdAt: number;
  /** refunded outside Amends */
  amountRefunded: number;
}

export interface IncidentContext {
  id: string;
  window: Interval;
  /** when the fault was detected or reported: the base of refund deadlines */
  detectedAt: number;
  /** components the incident affected; the policy's default scope */
  components: string[];
}

export interface EngineContext {
  policy: Policy;
  incident: IncidentContext;
  /** parent of each known component, to match subtrees */
  parents: ReadonlyMap<string, string | null>;
  /** the run's time: the base of credit validity */
  asOf: number;
  /** what Amends already applied per action key (money in minor units, or units) */
  applied: ReadonlyMap<string, number>;
  /** money each customer already got, per currency, this month (the incident's) for other incidents */
  paidThisMonth?: ReadonlyMap<string, Readonly<Record<string, number>>>;
  /**
   * what Amends refunded of each session or charge (`refundTarget`) for other incidents: a
   * refund never takes what was captured beyond what they and refunds elsewhere left
   */
  refundedForOtherIncidents?: ReadonlyMap<string, number>;
}

/** What a refund takes money back from, across incidents: `session:<id>` or `charge:<id>`. */
export const refundTarget = (line: Pick<ActionLine, "session" | "charge">): string =>
  line.charge !== null ? `charge:${line.charge}` : `session:${line.session}`;

export type LineKind = "refund" | "credit" | "unit_credit";

export interface ActionLine {
  key: string;
  customerId: string;
  kind: LineKind;
  /** what to pay now: target − already applied − refunded elsewhere */
  amount: number;
  currency: string | null;
  unit: string | null;
  target: number;
  alreadyApplied: number;
  refundedElsewhere: number;
  group: string;
  rule: string;
  breakdown: { rule: string; amount: number }[];
  session: string | null;
  charge: string | null;
  reason: string | null;
  dueBy: string | null;
  scope: string | null;
  expiresAt: string | null;
  visibleBy: string | null;
}

export interface Exclusion {
  customerId: string;
  reference: string;
  reason: ExclusionReason;
}

export type ExclusionReason =
  | "kind_mismatch"
  | "component_mismatch"
  | "region_mismatch"
  | "plan_mismatch"
  | "no_overlap"
  | "below_min_overlap"
  | "no_rule_matched"
  | "no_amount_for_currency"
  | "already_refunded"
  | "already_compensated"
  | "cap_reached";

export interface ReviewItem {
  customerId: string;
  reference: string;
  reason: "weak_key_duplicate" | "outside_fault_window" | "negative_delta";
  detail: string;
  key: string | null;
}

export interface CustomerResult {
  customerId: string;
  /** hurt by the incident (and so told about it, even when nothing is due) */
  affected: boolean;
  lines: ActionLine[];
  excluded: Exclusion[];
  review: ReviewItem[];
}

// ---------------------------------------------------------------------------------------

interface Target {
  /** session id, charge id, or customer id */
  id: string;
  level: "session" | "charge" | "customer";
  session: CompSession | null;
  charge: CompCharge | null;
  currency: string | null;
  /** overlap with the window, or the customer's downtime */
  overlap: number;
  /** the stretches of downtime, sorted and merged, for per-day and SLA rules */
  downtime: Interval[];
  /**
   * refunds only: the most that refunds of this incident plus refunds made elsewhere may add
   * up to: what was captured less what Amends refunded of it for other incidents (and, for a
   * duplicate charge, no more than the customer paid beyond the original)
   */
  headroom: number;
}

interface Part {
  rule: Rule;
  kind: LineKind;
  unit: string | null;
  /** exact: a line rounds once, whatever the rules it adds up */
  exact: Fraction;
  /** the rule's own result, rounded: the line's breakdown */
  amount: number;
}

const dur = (text: string | undefined) => (text === undefined ? undefined : parseDuration(text));
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function amountIn(
  amount: Amount,
  currency: string | null,
  policyCurrency: string | undefined,
): number | undefined {
  if (typeof amount === "number") {
    if (policyCurrency && currency && policyCurrency !== currency) return undefined;
    return amount;
  }
  return currency ? amount[currency] : undefined;
}

/** The customer as a target of customer-level rules, before any downtime is known. */
const customerTarget = (customer: CompCustomer): Target => ({
  id: customer.id,
  level: "customer",
  session: null,
  charge: null,
  currency: customer.currency,
  overlap: 0,
  downtime: [],
  headroom: 0,
});

/** Which level a rule compensates at. */
export function levelOf(rule: Rule): Target["level"] {
  if (rule.action.refund === "duplicates") return "charge";
  if (rule.per) return rule.per;
  return rule.action.refund !== undefined ? "session" : "customer";
}

function conditionHolds(when: Condition | undefined, t: Target, customer: CompCustomer): boolean {
  if (!when) return true;
  const o = t.overlap;
  const checks: [string | undefined, (d: number) => boolean][] = [
    [when.overlap_gt, (d) => o > d],
    [when.overlap_gte, (d) => o >= d],
    [when.overlap_lt, (d) => o < d],
    [when.overlap_lte, (d) => o <= d],
    [when.downtime_gte, (d) => o >= d],
    [when.downtime_lt, (d) => o < d],
  ];
  for (const [text, test] of checks) if (text !== undefined && !test(parseDuration(text))) return false;
  if (when.plan && !when.plan.includes(customer.plan ?? "")) return false;
  const region = t.session?.region ?? customer.homeRegion ?? "";
  if (when.region && !when.region.includes(region)) return false;
  if (when.kind && !when.kind.includes(t.session?.kind ?? "")) return false;
  return true;
}

const exactPct = (base: number, pct: string): Fraction =>
  mul(fraction(base), mul(parseDecimal(pct), fraction(1, 100)));

const pctOf = (base: number, pct: string, policy: Policy): number =>
  round(exactPct(base, pct), policy.rounding);

/** Per-day compensation: each local day after the grace, at the rate in force that day. */
function perDay(
  action: NonNullable<Action["per_day"]>,
  t: Target,
  ctx: EngineContext,
  calendar: LocalCalendar,
  currency: string | null,
): number | undefined {
  if (t.downtime.length === 0) return 0;
  const end = t.downtime.at(-1)!.end;
  const first = calendar.dateOf(t.downtime[0]!.start);
  // Grace: whole working (or calendar) days after the day the fault began; counting starts after.
  const workingDays = action.grace?.working_days;
  let remaining = workingDays ?? action.grace?.days ?? 0;
  let day: Temporal.PlainDate = first;
  const hasGrace = remaining > 0;
  while (remaining > 0) {
    day = day.add({ days: 1 });
    if (workingDays === undefined || calendar.isWorkingDay(day)) remaining--;
  }
  let total = 0;
  for (day = hasGrace ? day.add({ days: 1 }) : first; ; day = day.add({ days: 1 })) {
    const dayStart = calendar.startOf(day);
    if (dayStart >= end) break;
    const dayEnd = calendar.startOf(day.add({ days: 1 }));
    const covered = coveredMs(t.downtime, { start: dayStart, end: dayEnd });
    const counts = action.day_counting === "whole_days_only" ? covered >= dayEnd - dayStart : covered > 0;
    if (!counts) continue;
    const rate = action.rate_table
      ? [...action.rate_table].reverse().find((r) => r.from <= day.toString())?.amount
      : action.amount;
    if (rate === undefined) continue;
    const amount = amountIn(rate, currency, ctx.policy.currency);
    if (amount === undefined) return undefined;
    total += amount;
  }
  return total;
}

/** SLA credit: for each local month the downtime touches, the tier of that month's uptime. */
function uptimeTiers(
  tiers: NonNullable<Action["tiers_by_monthly_uptime"]>,
  t: Target,
  customer: CompCustomer,
  calendar: LocalCalendar,
): Fraction {
  let total = fraction(0);
  if (t.downtime.length === 0 || !customer.monthlyFee) return total;
  const end = t.downtime.at(-1)!.end;
  let month = calendar.dateOf(t.downtime[0]!.start).with({ day: 1 });
  for (;;) {
    const from = calendar.startOf(month);
    if (from >= end) break;
    const next = month.add({ months: 1 });
    const down = coveredMs(t.downtime, { start: from, end: calendar.startOf(next) });
    const monthMs = calendar.monthMinutes(month) * MINUTE;
    const uptime = fraction(BigInt(monthMs - down) * 100n, BigInt(monthMs)); // percent, exact
    const tier = tiers.find(
      (x) =>
        (x.gte === undefined || compare(uptime, parseDecimal(x.gte)) >= 0) &&
        (x.lt === undefined || compare(uptime, parseDecimal(x.lt)) < 0),
    );
    if (tier && down > 0) total = add(total, exactPct(customer.monthlyFee, tier.pct));
    month = next;
  }
  return total;
}

// Helpers of the per-customer path live at module level: tsx keeps function names by
// redefining `name` on every closure it creates, which showed in profiles of large previews.

const moneyPart = (
  rule: Rule,
  amount: Fraction | number | undefined,
  policy: Policy,
): Part | "no_amount_for_currency" => {
  if (amount === undefined) return "no_amount_for_currency";
  const exact = typeof amount === "number" ? fraction(amount) : amount;
  const kind = rule.action.refund !== undefined ? "refund" : "credit";
  return { rule, kind, unit: null, exact, amount: round(exact, policy.rounding) };
};

/** One rule's result for one target, exact; undefined when it does not apply. */
function evaluateRule(
  rule: Rule,
  t: Target,
  customer: CompCustomer,
  ctx: EngineContext,
  calendar: LocalCalendar,
): Part | "no_amount_for_currency" | undefined {
  const a = rule.action;
  const policy = ctx.policy;

  if (a.refund !== undefined) {
    if (a.refund === "duplicates") return t.charge ? moneyPart(rule, t.charge.amount, policy) : undefined;
    const s = t.session;
    if (!s) return undefined;
    if (a.refund === "session_charge") return moneyPart(rule, s.charge, policy);
    if (a.refund === "prorata_overlap") {
      const length = (s.end ?? ctx.asOf) - s.start;
      const share: Fraction =
        length > 0 ? fraction(BigInt(s.charge) * BigInt(t.overlap), BigInt(length)) : fraction(s.charge);
      return moneyPart(rule, share, policy);
    }
    return moneyPart(rule, exactPct(s.charge, a.refund.percent), policy);
  }
  if (a.credit !== undefined) {
    if ("unit" in a.credit) {
      const amount = a.credit.amount;
      return { rule, kind: "unit_credit", unit: a.credit.unit, exact: fraction(amount), amount };
    }
    return moneyPart(rule, amountIn(a.credit.amount, t.currency, policy.currency), policy);
  }
  if (a.fixed !== undefined) return moneyPart(rule, amountIn(a.fixed, t.currency, policy.currency), policy);
  if (a.percent_of_monthly_fee !== undefined) {
    return customer.monthlyFee
      ? moneyPart(rule, exactPct(customer.monthlyFee, a.percent_of_monthly_fee), policy)
      : undefined;
  }
  if (a.per_day) return moneyPart(rule, perDay(a.per_day, t, ctx, calendar, t.currency), policy);
  if (a.tiers_by_duration) {
    // The downtime counted once: a customer's overlapping sessions do not add up.
    const length = t.overlap;
    const tier = a.tiers_by_duration.find(
      (x) => (x.gte === undefined || length >= dur(x.gte)!) && (x.lt === undefined || length < dur(x.lt)!),
    );
    if (!tier) return undefined;
    if (tier.pct_of_monthly_fee !== undefined) {
      return customer.monthlyFee
        ? moneyPart(rule, exactPct(customer.monthlyFee, tier.pct_of_monthly_fee), policy)
        : undefined;
    }
    return moneyPart(rule, amountIn(tier.amount!, t.currency, policy.currency), policy);
  }
  if (a.tiers_by_monthly_uptime)
    return moneyPart(rule, uptimeTiers(a.tiers_by_monthly_uptime, t, customer, calendar), policy);
  return undefined;
}

/**
 * A cap's limit in a currency, or undefined when the cap names no amount in it. A cap on the
 * monthly fee is in the customer's currency (the lines' when the customer has none recorded).
 */
function capLimit(
  c: NonNullable<Cap["per_customer"]>,
  customer: CompCustomer,
  currency: string | null,
  policy: Policy,
): number | undefined {
  if (c.pct_of_monthly_fee === undefined) return amountIn(c.amount!, currency, policy.currency);
  if (customer.currency && customer.currency !== currency) return undefined;
  return customer.monthlyFee ? pctOf(customer.monthlyFee, c.pct_of_monthly_fee, policy) : 0;
}

/**
 * The most a customer may get in a currency from a capped group: `uncapped` when no cap
 * applies, null when a cap applies but names no amount in this currency (nothing is paid).
 */
function capAmount(
  cap: Cap | undefined,
  customer: CompCustomer,
  currency: string | null,
  ctx: EngineContext,
): number | null | "uncapped" {
  const limits: (number | undefined)[] = [];
  if (cap?.per_customer) limits.push(capLimit(cap.per_customer, customer, currency, ctx.policy));
  if (cap?.per_customer_per_month) {
    // Other incidents of the same month already count against a monthly cap.
    const limit = capLimit(cap.per_customer_per_month, customer, currency, ctx.policy);
    const paid = ctx.paidThisMonth?.get(customer.id)?.[currency ?? ""] ?? 0;
    limits.push(limit === undefined ? undefined : Math.max(0, limit - paid));
  }
  if (limits.length === 0) return "uncapped";
  if (limits.includes(undefined)) return null;
  return Math.min(...(limits as number[]));
}

/**
 * `incident:target:kind`. Refunds name the session or charge, credits the customer; a credit
 * given per session says so (`session_credit`), so a session and a customer that share an id
 * never share a key.
 */
function keyOf(
  incident: string,
  target: Pick<Target, "id" | "level">,
  kind: LineKind,
  unit: string | null,
): string {
  const base = kind === "unit_credit" ? `credit_${unit}` : kind;
  return `${incident}:${target.id}:${kind !== "refund" && target.level === "session" ? `session_${base}` : base}`;
}

/**
 * Every key `keyOf` could give a line of this policy, for these customers and their sessions
 * or charges: what to look up as already applied, whoever the target belongs to now.
 */
export function possibleKeys(
  incident: string,
  policy: Policy,
  targets: { customers: readonly string[]; rows: readonly string[] },
): string[] {
  const keys = new Set<string>();
  for (const rule of policyGroups(policy).flatMap((g) => g.rules)) {
    const level = levelOf(rule);
    const credit = rule.action.credit;
    const kind: LineKind =
      rule.action.refund !== undefined ? "refund" : credit && "unit" in credit ? "unit_credit" : "credit";
    const unit = credit && "unit" in credit ? credit.unit : null;
    for (const id of level === "customer" ? targets.customers : targets.rows) {
      keys.add(keyOf(incident, { id, level }, kind, unit));
    }
  }
  return [...keys];
}

// ---------------------------------------------------------------------------------------

export function isWithin(
  componentId: string | null,
  roots: readonly string[],
  parents: ReadonlyMap<string, string | null>,
): boolean {
  const seen = new Set<string>();
  for (let c: string | null | undefined = componentId; c && !seen.has(c); c = parents.get(c)) {
    if (roots.includes(c)) return true;
    seen.add(c);
  }
  return false;
}

interface Matched {
  targets: Target[];
  excluded: Exclusion[];
  review: ReviewItem[];
  affected: boolean;
}

/** Why the policy does not cover a session, if it does not. */
function sessionMismatch(
  ctx: EngineContext,
  roots: readonly string[],
  customer: CompCustomer,
  s: CompSession,
): Exclusion["reason"] | undefined {
  const m = ctx.policy.match;
  if (m.session_kinds && !m.session_kinds.includes(s.kind)) return "kind_mismatch";
  if (roots.length > 0 && !isWithin(s.componentId, roots, ctx.parents)) return "component_mismatch";
  const region = s.region ?? customer.homeRegion;
  if (m.regions && !m.regions.includes("*") && !m.regions.includes(region ?? "")) return "region_mismatch";
  if (m.plans && !m.plans.includes(customer.plan ?? "")) return "plan_mismatch";
  return undefined;
}

/** What a session's refunds may still add up to: its charge, less other incidents' refunds of it. */
const sessionHeadroom = (ctx: EngineContext, s: CompSession) =>
  Math.max(
    0,
    s.charge - (ctx.refundedForOtherIncidents?.get(refundTarget({ session: s.id, charge: null })) ?? 0),
  );

const exclude = (out: Matched, customer: CompCustomer, s: CompSession, reason: Exclusion["reason"]) =>
  out.excluded.push({ customerId: customer.id, reference: s.id, reason });

/** Which of a customer's sessions the incident touched, and the customer's downtime. */
function matchSessions(
  ctx: EngineContext,
  customer: CompCustomer,
  sessions: readonly CompSession[],
): Matched {
  const { policy, incident } = ctx;
  const m = policy.match;
  const w = incident.window;
  const roots = m.components ?? incident.components;
  const minOverlap = dur(m.min_overlap) ?? 1;
  const out: Matched = { targets: [], excluded: [], review: [], affected: false };
  const sorted = [...sessions].sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));

  if (policy.downtime === "per_customer") {
    // The customer was served by what failed if the session they had when it failed (still open,
    // or cut exactly then) was there; they were down until their next session began, or the
    // incident ended.
    const kinds = (s: CompSession) => !m.session_kinds || m.session_kinds.includes(s.kind);
    const homing = sorted
      .filter((s) => kinds(s) && s.start < w.start && (s.end === null || s.end >= w.start))
      .at(-1);
    if (!homing) return out;
    const why = sessionMismatch(ctx, roots, customer, homing);
    if (why) {
      exclude(out, customer, homing, why);
      return out;
    }
    const back = sorted.find((s) => kinds(s) && s.start >= w.start)?.start ?? w.end;
    const downtime = { start: w.start, end: Math.min(back, w.end) };
    const length = downtime.end - downtime.start;
    if (length <= 0) exclude(out, customer, homing, "no_overlap");
    else if (length < minOverlap) {
      exclude(out, customer, homing, "below_min_overlap");
      out.affected = true;
    } else {
      out.affected = true;
      out.targets.push({
        id: homing.id,
        level: "session",
        session: homing,
        charge: null,
        currency: homing.currency,
        overlap: length,
        downtime: [downtime],
        headroom: sessionHeadroom(ctx, homing),
      });
      out.targets.push({
        id: customer.id,
        level: "customer",
        session: null,
        charge: null,
        currency: customer.currency ?? homing.currency,
        overlap: length,
        downtime: [downtime],
        headroom: 0,
      });
    }
    return out;
  }

  const hit: Interval[] = [];
  for (const s of sorted) {
    const why = sessionMismatch(ctx, roots, customer, s);
    if (why) {
      exclude(out, customer, s, why);
      continue;
    }
    const span = { start: s.start, end: s.end ?? ctx.asOf };
    const overlap = overlapMs(span, w);
    if (overlap === 0) exclude(out, customer, s, "no_overlap");
    else if (overlap < minOverlap) {
      exclude(out, customer, s, "below_min_overlap");
      out.affected = true;
    } else {
      out.affected = true;
      const clipped = { start: Math.max(span.start, w.start), end: Math.min(span.end, w.end) };
      hit.push(clipped);
      out.targets.push({
        id: s.id,
        level: "session",
        session: s,
        charge: null,
        currency: s.currency,
        overlap,
        downtime: [clipped],
        headroom: sessionHeadroom(ctx, s),
      });
    }
  }
  if (hit.length > 0) {
    // The customer was down while any of their sessions was: overlapping sessions count once,
    // and the gaps between them not at all.
    const downtime = mergeIntervals(hit);
    out.targets.push({
      id: customer.id,
      level: "customer",
      session: null,
      charge: null,
      currency: customer.currency ?? out.targets[0]?.currency ?? null,
      overlap: downtime.reduce((sum, i) => sum + i.end - i.start, 0),
      downtime,
      headroom: 0,
    });
  }
  return out;
}

/** Duplicate charges of one customer: strong-key groups to refund, weak-key ones to review. */
function matchDuplicates(
  ctx: EngineContext,
  customer: CompCustomer,
  charges: readonly CompCharge[],
): Matched {
  const fault = ctx.policy.match.billing_fault!;
  const w = parseWindow(fault.window);
  const out: Matched = { targets: [], excluded: [], review: [], affected: false };
  const eligible = charges
    .filter((c) => fault.statuses.includes(c.status))
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  const keyFor = (c: CompCharge, fields: readonly string[]) =>
    JSON.stringify(
      fields.map(
        (f) =>
          ({ customer_id: c.customerId, usage_ref: c.usageRef, amount: c.amount, currency: c.currency })[
            f as "amount"
          ],
      ),
    );
  const inWindow = (c: CompCharge) => c.createdAt >= w.start && c.createdAt < w.end;

  const strong = new Map<string, CompCharge[]>();
  const rest: CompCharge[] = [];
  for (const c of eligible) {
    if (fault.strong_key.includes("usage_ref") && !c.usageRef) {
      rest.push(c);
      continue;
    }
    const k = keyFor(c, fault.strong_key);
    strong.set(k, [...(strong.get(k) ?? []), c]);
  }
  for (const group of strong.values()) {
    const [original, ...duplicates] = group;
    // The customer should have paid once. What they paid beyond that (net of refunds made
    // elsewhere and of other incidents' refunds) is all the duplicates' refunds may return:
    // if the original was refunded, its duplicate is the one payment left standing.
    const kept = (c: CompCharge) =>
      c.amount -
      c.amountRefunded -
      (ctx.refundedForOtherIncidents?.get(refundTarget({ session: null, charge: c.id })) ?? 0);
    let excess = group.reduce((sum, c) => sum + kept(c), 0) - original!.amount;
    for (const d of duplicates) {
      if (!inWindow(d)) {
        out.review.push({
          customerId: customer.id,
          reference: d.id,
          reason: "outside_fault_window",
          detail: `duplicate of ${original!.id} created ${iso(d.createdAt)}, outside ${fault.window}`,
          key: null,
        });
        continue;
      }
      out.affected = true;
      const returnable = Math.max(0, Math.min(kept(d), excess));
      excess -= returnable;
      out.targets.push({
        id: d.id,
        level: "charge",
        session: null,
        charge: d,
        currency: d.currency,
        overlap: 0,
        downtime: [],
        headroom: d.amountRefunded + returnable,
      });
    }
  }
  if (fault.weak_key) {
    const within = parseDuration(fault.weak_key.within);
    const weak = new Map<string, CompCharge[]>();
    for (const c of rest) {
      const k = keyFor(c, fault.weak_key.fields);
      weak.set(k, [...(weak.get(k) ?? []), c]);
    }
    for (const group of weak.values()) {
      for (let i = 1; i < group.length; i++) {
        const c = group[i]!;
        const prev = group[i - 1]!;
        if (c.createdAt - prev.createdAt <= within && inWindow(c)) {
          out.review.push({
            customerId: customer.id,
            reference: c.id,
            reason: "weak_key_duplicate",
            detail: `same ${fault.weak_key.fields.join(", ")} as ${prev.id}, ${Math.round((c.createdAt - prev.createdAt) / 1000)} s apart, no usage reference`,
            key: null,
          });
        }
      }
    }
  }
  if (out.affected) {
    // Credits for a billing fault are in the customer's currency, else the duplicates'.
    out.targets.push({
      ...customerTarget(customer),
      currency: customer.currency ?? out.targets[0]!.currency,
    });
  }
  return out;
}

/** One calendar per policy, not per customer: loading a country's holidays is slow. */
const calendars = new WeakMap<Policy, LocalCalendar>();
function calendarOf(policy: Policy): LocalCalendar {
  let calendar = calendars.get(policy);
  if (!calendar) {
    calendar = new LocalCalendar(policy.time_zone, policy.holidays);
    calendars.set(policy, calendar);
  }
  return calendar;
}

const byRef = (a: { reference: string; reason: string }, b: { reference: string; reason: string }) =>
  a.reference < b.reference
    ? -1
    : a.reference > b.reference
      ? 1
      : a.reason < b.reason
        ? -1
        : a.reason > b.reason
          ? 1
          : 0;

/** One customer's lines (by key), exclusions and review items (by reference, then reason). */
export function evaluateCustomer(
  ctx: EngineContext,
  customer: CompCustomer,
  sessions: readonly CompSession[],
  charges: readonly CompCharge[],
): CustomerResult {
  const result = evaluateUnsorted(ctx, customer, sessions, charges);
  result.lines.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  result.excluded.sort(byRef);
  result.review.sort(byRef);
  return result;
}

function evaluateUnsorted(
  ctx: EngineContext,
  customer: CompCustomer,
  sessions: readonly CompSession[],
  charges: readonly CompCharge[],
): CustomerResult {
  const { policy, incident } = ctx;
  const calendar = calendarOf(policy);
  const matched = policy.match.billing_fault
    ? matchDuplicates(ctx, customer, charges)
    : matchSessions(ctx, customer, sessions);
  const result: CustomerResult = {
    customerId: customer.id,
    affected: matched.affected,
    lines: [],
    excluded: matched.excluded,
    review: matched.review,
  };
  if (!matched.affected) return result;

  const group: Group | undefined = policyGroups(policy).find((g) =>
    conditionHolds(g.when, customerTarget(customer), customer),
  );
  if (!group) {
    result.excluded.push({ customerId: customer.id, reference: customer.id, reason: "no_rule_matched" });
    return result;
  }

  interface Draft {
    target: Target;
    kind: LineKind;
    unit: string | null;
    parts: Part[];
  }
  const drafts: Draft[] = [];
  const usedPerRule = new Map<string, number>();
  for (const target of matched.targets) {
    const parts: Part[] = [];
    for (const rule of group.rules) {
      if (levelOf(rule) !== target.level) continue;
      if (!conditionHolds(rule.when, target, customer)) continue;
      if (rule.max_per_customer !== undefined && (usedPerRule.get(rule.id) ?? 0) >= rule.max_per_customer)
        continue;
      const part = evaluateRule(rule, target, customer, ctx, calendar);
      if (part === undefined) continue;
      if (part === "no_amount_for_currency") {
        result.excluded.push({
          customerId: customer.id,
          reference: target.id,
          reason: "no_amount_for_currency",
        });
        continue;
      }
      parts.push(part);
      usedPerRule.set(rule.id, (usedPerRule.get(rule.id) ?? 0) + 1);
      if (group.combine === "first_match") break;
    }
    const byKind = new Map<string, Part[]>();
    for (const p of parts)
      byKind.set(`${p.kind}:${p.unit}`, [...(byKind.get(`${p.kind}:${p.unit}`) ?? []), p]);
    for (const list of byKind.values()) {
      const chosen = group.combine === "max" ? [list.reduce((a, b) => (b.amount > a.amount ? b : a))] : list;
      drafts.push({ target, kind: chosen[0]!.kind, unit: chosen[0]!.unit, parts: chosen });
    }
    if (
      parts.length === 0 &&
      target.level === "session" &&
      group.rules.some((r) => levelOf(r) === "session")
    ) {
      result.excluded.push({ customerId: customer.id, reference: target.id, reason: "no_rule_matched" });
    }
  }

  // Each line rounds once: the exact sum of its rules (a single rule when combining by
  // first match or max). A refund never takes more than its headroom, however many rules add up.
  const elsewhere = (d: Draft) =>
    d.kind === "refund" ? (d.target.charge?.amountRefunded ?? d.target.session?.refunded ?? 0) : 0;
  const uncapped = drafts.map((d) => {
    const gross = round(
      d.parts.reduce((sum, p) => add(sum, p.exact), fraction(0)),
      policy.rounding,
    );
    return d.kind === "refund" ? Math.min(gross, d.target.headroom) : gross;
  });
  const targets = [...uncapped];
  /** drafts in a currency a cap names no amount in: nothing is paid */
  const noCapAmount = new Set<number>();
  const currencies = new Set(drafts.filter((d) => d.kind !== "unit_credit").map((d) => d.target.currency));
  for (const currency of currencies) {
    const idx = drafts.flatMap((d, i) =>
      d.kind !== "unit_credit" && d.target.currency === currency ? [i] : [],
    );
    const limits = [
      capAmount(group.cap, customer, currency, ctx),
      policy.groups ? capAmount(policy.cap, customer, currency, ctx) : "uncapped",
    ];
    if (limits.includes(null)) {
      for (const i of idx) {
        targets[i] = Math.min(elsewhere(drafts[i]!), targets[i]!); // pays nothing, takes nothing back
        noCapAmount.add(i);
      }
      continue;
    }
    const numeric = limits.filter((l): l is number => typeof l === "number");
    if (numeric.length === 0) continue;
    // The capped money is spread over the lines by largest remainder. (The split is of the
    // targets: so it stays the same when support refunds more later, and a re-run never
    // moves money from a line already paid to another.)
    const cap = Math.min(...numeric);
    if (idx.reduce((sum, i) => sum + targets[i]!, 0) <= cap) continue;
    const shares = allocate(
      cap,
      idx.map((i) => targets[i]!),
    );
    idx.forEach((i, j) => {
      targets[i] = shares[j]!;
    });
  }

  drafts.forEach((d, i) => {
    const target = targets[i]!;
    const key = keyOf(incident.id, d.target, d.kind, d.unit);
    const alreadyApplied = ctx.applied.get(key) ?? 0;
    const refundedElsewhere = elsewhere(d);
    const amount = target - alreadyApplied - refundedElsewhere;
    if (amount < 0) {
      result.review.push({
        customerId: customer.id,
        reference: d.target.id,
        reason: "negative_delta",
        detail: `target ${target} is below what was already paid (${alreadyApplied} by Amends, ${refundedElsewhere} elsewhere); nothing is taken back`,
        key,
      });
      return;
    }
    if (amount === 0) {
      result.excluded.push({
        customerId: customer.id,
        reference: d.target.id,
        reason:
          alreadyApplied > 0
            ? "already_compensated"
            : noCapAmount.has(i)
              ? "no_amount_for_currency"
              : target < uncapped[i]!
                ? "cap_reached"
                : "already_refunded",
      });
      return;
    }
    const rule = d.parts[0]!.rule;
    const action = rule.action;
    const unitCredit = action.credit && "unit" in action.credit ? action.credit : undefined;
    const moneyCredit = action.credit && !("unit" in action.credit) ? action.credit : undefined;
    const validFor = dur(unitCredit?.valid_for ?? moneyCredit?.valid_for);
    result.lines.push({
      key,
      customerId: customer.id,
      kind: d.kind,
      amount,
      currency: d.kind === "unit_credit" ? null : d.target.currency,
      unit: d.unit,
      target,
      alreadyApplied,
      refundedElsewhere,
      group: group.id,
      rule: d.parts.map((p) => p.rule.id).join("+"),
      breakdown: d.parts.map((p) => ({ rule: p.rule.id, amount: p.amount })),
      session: d.target.session?.id ?? null,
      charge: d.target.charge?.id ?? null,
      reason:
        d.kind === "refund" ? (action.reason ?? (action.refund === "duplicates" ? "duplicate" : null)) : null,
      dueBy: action.due_within ? iso(incident.detectedAt + parseDuration(action.due_within)) : null,
      scope: unitCredit
        ? unitCredit.scope === "home_city" || !unitCredit.scope
          ? customer.homeRegion
          : unitCredit.scope
        : null,
      expiresAt: validFor !== undefined ? iso(ctx.asOf + validFor) : null,
      visibleBy: unitCredit?.visible_within ? iso(ctx.asOf + parseDuration(unitCredit.visible_within)) : null,
    });
  });
  return result;
}
