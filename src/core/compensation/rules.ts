/**
 * One rule of a policy on one target: whether its conditions hold, at which level it pays, and
 * its amount, exact (refunds, credits, fixed amounts, percentages of the fee, per day, tiers by
 * duration or by monthly uptime).
 */
import { add, compare, type Fraction, fraction, mul, parseDecimal, round } from "../money.ts";
import type { CompCustomer, EngineContext, LineKind, Target } from "./engine-types.ts";
import type { Action, Amount, Condition, Policy, Rule } from "./policy.ts";
import { coveredMs, dur, type LocalCalendar, MINUTE, parseDuration, type Temporal } from "./time.ts";

export interface Part {
  rule: Rule;
  kind: LineKind;
  unit: string | null;
  /** exact: a line rounds once, whatever the rules it adds up */
  exact: Fraction;
  /** the rule's own result, rounded: the line's breakdown */
  amount: number;
}

export function amountIn(
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

/** Which level a rule compensates at. */
export function levelOf(rule: Rule): Target["level"] {
  if (rule.action.refund === "duplicates") return "charge";
  if (rule.per) return rule.per;
  return rule.action.refund !== undefined ? "session" : "customer";
}

export function conditionHolds(when: Condition | undefined, t: Target, customer: CompCustomer): boolean {
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

export const pctOf = (base: number, pct: string, policy: Policy): number =>
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
export function evaluateRule(
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
