/**
 * What an incident touched, per customer: the sessions within its window and scope (or, with
 * `downtime: per_customer`, the session they had when it failed), the customer's downtime, and
 * duplicate charges of a billing fault; with what was left out and what needs a person.
 */
import type {
  CompCharge,
  CompCustomer,
  CompSession,
  EngineContext,
  Exclusion,
  ReviewItem,
  Target,
} from "./engine-types.ts";
import { refundTarget } from "./keys.ts";
import { dur, type Interval, iso, mergeIntervals, overlapMs, parseDuration, parseWindow } from "./time.ts";

/** The customer as a target of customer-level rules, before any downtime is known. */
export const customerTarget = (customer: CompCustomer): Target => ({
  id: customer.id,
  level: "customer",
  session: null,
  charge: null,
  currency: customer.currency,
  overlap: 0,
  downtime: [],
  headroom: 0,
});

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

export interface Matched {
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
export function matchSessions(
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
export function matchDuplicates(
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
