/**
 * What an action is called: `incident:target:kind`, never the policy's version, so a re-run pays
 * only the difference (invariant 1 in engine.ts); and what a refund takes money back from.
 */

import type { ActionLine, LineKind, Target } from "./engine-types.ts";
import { type Policy, policyGroups } from "./policy.ts";
import { levelOf } from "./rules.ts";

/** What a refund takes money back from, across incidents: `session:<id>` or `charge:<id>`. */
export const refundTarget = (line: Pick<ActionLine, "session" | "charge">): string =>
  line.charge !== null ? `charge:${line.charge}` : `session:${line.session}`;

/**
 * `incident:target:kind`. Refunds name the session or charge, credits the customer; a credit
 * given per session says so (`session_credit`), so a session and a customer that share an id
 * never share a key.
 */
export function keyOf(
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
