/**
 * Ledger postings for an applied action, double-entry: debits positive, credits negative,
 * summing to zero per currency (or unit ledger) in every entry.
 *
 *  refund       Dr contra_revenue:refunds              Cr psp_clearing
 *  credit       Dr expense:make_good:<incident>        Cr liability:customer_credit:<customer>
 *  unit_credit  Dr expense:make_good:<incident>        Cr liability:customer_units:<customer>
 *               (in a unit ledger such as `minutes:berlin`, never mixed with money)
 */
import type { ActionLine } from "./engine.ts";

export interface Posting {
  account: string;
  amount: number;
  currency: string;
}

/** The ledger (currency or unit) an action is booked in. */
const ledgerCurrency = (line: Pick<ActionLine, "kind" | "currency" | "unit" | "scope">) =>
  line.kind === "unit_credit" ? `${line.unit}:${line.scope ?? "any"}` : line.currency!;

export function postingsFor(
  line: Pick<ActionLine, "kind" | "currency" | "unit" | "scope" | "customerId">,
  amount: number,
  incidentId: string,
): Posting[] {
  const currency = ledgerCurrency(line);
  const [debit, credit] =
    line.kind === "refund"
      ? ["contra_revenue:refunds", "psp_clearing"]
      : line.kind === "credit"
        ? [`expense:make_good:${incidentId}`, `liability:customer_credit:${line.customerId}`]
        : [`expense:make_good:${incidentId}`, `liability:customer_units:${line.customerId}`];
  return [
    { account: debit, amount, currency },
    { account: credit, amount: -amount, currency },
  ];
}
