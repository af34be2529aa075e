/** Caps: the most a customer may get from a capped group, in a currency, per incident or per month. */

import type { CompCustomer, EngineContext } from "./engine-types.ts";
import type { Cap, Policy } from "./policy.ts";
import { amountIn, pctOf } from "./rules.ts";

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
export function capAmount(
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
