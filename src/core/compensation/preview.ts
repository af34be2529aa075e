/**
 * A preview: every customer's result folded into one deterministic document (sorted by
 * customer, then key), with totals per currency and unit, per customer, and the one
 * notification each affected customer gets.
 */
import { conflict } from "../errors.ts";
import {
  type ActionLine,
  type CompCharge,
  type CompCustomer,
  type CompSession,
  type CustomerResult,
  type EngineContext,
  type Exclusion,
  evaluateCustomer,
  type ReviewItem,
} from "./engine.ts";

export interface Totals {
  /** money per currency, minor units */
  money: Record<string, number>;
  /** units per unit name, e.g. minutes */
  units: Record<string, number>;
  lines: number;
}

export interface Notice {
  customerId: string;
  /** the customer was affected but is owed nothing */
  nothingDue: boolean;
  keys: string[];
}

export interface Preview {
  lines: ActionLine[];
  excluded: Exclusion[];
  review: ReviewItem[];
  notifications: Notice[];
  totals: Totals;
  perCustomer: { customerId: string; totals: Totals }[];
}

export function emptyTotals(): Totals {
  return { money: {}, units: {}, lines: 0 };
}

export function addToTotals(
  t: Totals,
  line: Pick<ActionLine, "amount" | "currency" | "unit" | "kind">,
): void {
  if (line.kind === "unit_credit") t.units[line.unit!] = (t.units[line.unit!] ?? 0) + line.amount;
  else t.money[line.currency!] = (t.money[line.currency!] ?? 0) + line.amount;
  t.lines++;
  checkTotal(line.kind === "unit_credit" ? t.units[line.unit!]! : t.money[line.currency!]!, line);
}

/** Totals are exact integers or refused: past 2^53 a number would silently round. */
export function checkTotal(total: number, of: Pick<ActionLine, "currency" | "unit">): void {
  if (!Number.isSafeInteger(total))
    throw conflict(`the total in ${of.currency ?? of.unit} exceeds 2^53 − 1 minor units; split the run`);
}

export const sortKeys = (r: Record<string, number>) =>
  Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
export const sortedTotals = (t: Totals): Totals => ({
  money: sortKeys(t.money),
  units: sortKeys(t.units),
  lines: t.lines,
});

/**
 * A stored run keeps this many excluded items of each reason (the first, by customer then
 * reference) and counts them all: the re-preview of an applied incident excludes every session
 * it paid, and a million rows saying "already compensated" tell nobody more than their count.
 */
export const EXCLUDED_SAMPLE = 100;

/** Fed each customer's exclusions in customer order: keeps the sample and counts every reason. */
export class ExclusionSample {
  readonly counts: Record<string, number> = {};
  take(excluded: readonly Exclusion[]): Exclusion[] {
    const kept: Exclusion[] = [];
    for (const e of [...excluded].sort((a, b) => (a.reference < b.reference ? -1 : 1))) {
      this.counts[e.reason] = (this.counts[e.reason] ?? 0) + 1;
      if (this.counts[e.reason]! <= EXCLUDED_SAMPLE) kept.push(e);
    }
    return kept;
  }
  /** The counts with their reasons sorted: the same summary, and hash, whichever way it was computed. */
  sorted(): Record<string, number> {
    return sortKeys(this.counts);
  }
}

/**
 * The message a customer gets from this run, if any. A customer this incident already paid and
 * owes nothing more gets none: they were told what they got when it was paid, and a customer
 * hears about an incident's compensation once.
 */
export function noticeOf(r: CustomerResult, notifyWhenNothingDue: boolean): Notice | undefined {
  if (!r.affected) return undefined;
  const nothingDue = r.lines.length === 0;
  if (nothingDue && !notifyWhenNothingDue) return undefined;
  if (nothingDue && r.excluded.some((e) => e.reason === "already_compensated")) return undefined;
  return { customerId: r.customerId, nothingDue, keys: r.lines.map((l) => l.key) };
}

/** Folds per-customer results (in any order) into one sorted preview. */
export function foldResults(results: readonly CustomerResult[], notifyWhenNothingDue: boolean): Preview {
  const sorted = [...results].sort((a, b) =>
    a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0,
  );
  const preview: Preview = {
    lines: [],
    excluded: [],
    review: [],
    notifications: [],
    totals: emptyTotals(),
    perCustomer: [],
  };
  for (const r of sorted) {
    preview.lines.push(...r.lines);
    preview.excluded.push(...r.excluded);
    preview.review.push(...r.review);
    const notice = noticeOf(r, notifyWhenNothingDue);
    if (notice) preview.notifications.push(notice);
    if (r.lines.length) {
      const t = emptyTotals();
      for (const l of r.lines) {
        addToTotals(t, l);
        addToTotals(preview.totals, l);
      }
      preview.perCustomer.push({ customerId: r.customerId, totals: sortedTotals(t) });
    }
  }
  preview.totals = sortedTotals(preview.totals);
  return preview;
}

/** The whole evaluation in memory: for tests, small workspaces and the property tests. */
export function evaluate(
  ctx: EngineContext,
  customers: readonly CompCustomer[],
  sessions: readonly CompSession[],
  charges: readonly CompCharge[],
): Preview {
  const sessionsBy = new Map<string, CompSession[]>();
  for (const s of sessions) sessionsBy.set(s.customerId, [...(sessionsBy.get(s.customerId) ?? []), s]);
  const chargesBy = new Map<string, CompCharge[]>();
  for (const c of charges) chargesBy.set(c.customerId, [...(chargesBy.get(c.customerId) ?? []), c]);
  const results = customers.map((c) =>
    evaluateCustomer(ctx, c, sessionsBy.get(c.id) ?? [], chargesBy.get(c.id) ?? []),
  );
  return foldResults(results, ctx.policy.notify.when_nothing_due);
}
