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
 *
 * The parts, by concern: engine-types.ts (inputs and outputs), targets.ts (what the incident
 * touched), rules.ts (conditions and each rule's amount), caps.ts, keys.ts (action keys);
 * here, one customer's evaluation: rules combined per group, refunds held to their headroom,
 * caps spread over the lines, and the delta against what was already paid.
 */
import { add, allocate, fraction, round } from "../money.ts";
import { capAmount } from "./caps.ts";
import type {
  CompCharge,
  CompCustomer,
  CompSession,
  CustomerResult,
  EngineContext,
  LineKind,
  Target,
} from "./engine-types.ts";
import { keyOf } from "./keys.ts";
import { type Group, type Policy, policyGroups } from "./policy.ts";
import { conditionHolds, evaluateRule, levelOf, type Part } from "./rules.ts";
import { customerTarget, matchDuplicates, matchSessions } from "./targets.ts";
import { dur, iso, LocalCalendar, parseDuration } from "./time.ts";

export type {
  ActionLine,
  CompCharge,
  CompCustomer,
  CompSession,
  CustomerResult,
  EngineContext,
  Exclusion,
  ExclusionReason,
  IncidentContext,
  LineKind,
  ReviewItem,
} from "./engine-types.ts";
export { possibleKeys, refundTarget } from "./keys.ts";
export { levelOf } from "./rules.ts";
export { isWithin } from "./targets.ts";

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
