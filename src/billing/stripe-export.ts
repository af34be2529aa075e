/**
 * Exports what a run booked to Stripe, through Stripe's own SDK:
 *  refund       → a Refund of the charge (for a session: the charge whose usage_ref is the session),
 *                 or a credit note refunding it when the charge paid an invoice
 *  credit       → a customer balance transaction (negative amount = credit on the next invoice)
 *  unit_credit  → a promotional billing credit grant worth units × the unit's price, expiring
 *                 with the credit, effective when it should become visible
 * Each call carries the ledger entry's idempotency key, so retries never pay twice at Stripe
 * either; what Stripe answered is recorded per entry, and entries already sent are skipped.
 */

import { and, eq, sql } from "drizzle-orm";
import Stripe from "stripe";
import { invalidField } from "../core/errors.ts";
import type { Database } from "../storage/database.ts";
import { billingExports, ledgerEntries } from "../storage/schema.ts";

export interface UnitPrice {
  /** minor units per unit */
  amount: number;
  currency: string;
}

export interface StripeExportOptions {
  /** price per unit, by `unit:scope` (e.g. `minutes:berlin`) or by unit alone */
  unitPrices?: Record<string, UnitPrice>;
  now: Date;
}

export interface StripeExportResult {
  sent: number;
  alreadySent: number;
  failed: { entry: string; key: string; error: string }[];
}

export function stripeClient(apiKey: string, base?: string): Stripe {
  const url = base ? new URL(base) : undefined;
  return new Stripe(apiKey, {
    maxNetworkRetries: 2,
    telemetry: false,
    ...(url && {
      host: url.hostname,
      port: url.port || (url.protocol === "https:" ? 443 : 80),
      protocol: url.protocol.replace(":", "") as "http" | "https",
    }),
  });
}

const unix = (iso: unknown) => (typeof iso === "string" ? Math.floor(Date.parse(iso) / 1000) : undefined);

export async function exportRunToStripe(
  database: Database,
  stripe: Stripe,
  workspaceId: string,
  runId: string,
  options: StripeExportOptions,
): Promise<StripeExportResult> {
  const entries = await database.db
    .select()
    .from(ledgerEntries)
    .where(and(eq(ledgerEntries.workspaceId, workspaceId), eq(ledgerEntries.runId, runId)))
    .orderBy(sql`action_key collate "C"`);
  const done = new Set(
    (
      await database.db
        .select({ entryId: billingExports.entryId })
        .from(billingExports)
        .where(
          and(
            eq(billingExports.workspaceId, workspaceId),
            eq(billingExports.target, "stripe"),
            eq(billingExports.status, "sent"),
          ),
        )
    ).map((r) => r.entryId),
  );
  const result: StripeExportResult = { sent: 0, alreadySent: 0, failed: [] };
  const stripeIds = new Map(
    (
      await database.query<{ id: string; stripe_customer_id: string | null }>(
        `select id, stripe_customer_id from customers where workspace_id = $1
           and id in (select customer_id from ledger_entries where workspace_id = $1 and run_id = $2)`,
        [workspaceId, runId],
      )
    ).map((r) => [r.id, r.stripe_customer_id]),
  );
  /** Their Stripe customer: imported with them, or our id when it is one (cus_…). */
  const customer = (ours: string) => {
    const known = stripeIds.get(ours) ?? (ours.startsWith("cus_") ? ours : null);
    if (!known) throw new Error(`customer "${ours}" has no stripe_customer_id: import it with the customer`);
    return known;
  };

  for (const e of entries) {
    if (done.has(e.id)) {
      result.alreadySent++;
      continue;
    }
    const d = e.detail as Record<string, string | null>;
    const metadata = {
      amends_key: e.idempotencyKey,
      incident: e.incidentId,
      customer: e.customerId,
      run: runId,
    };
    const request = { idempotencyKey: e.idempotencyKey };
    let providerId: string | undefined;
    let error: string | undefined;
    try {
      if (e.kind === "refund") {
        const charge = await chargeOf(database, workspaceId, d.charge, d.session);
        if (!charge)
          throw new Error(
            `no succeeded charge ${d.charge ? `"${d.charge}"` : `has usage_ref "${d.session}"`}`,
          );
        if (charge.invoice_id) {
          // An invoiced charge is refunded through a credit note, so the invoice tells the story.
          const note = await stripe.creditNotes.create(
            {
              invoice: charge.invoice_id,
              amount: e.amount,
              refund_amount: e.amount,
              reason: d.reason === "duplicate" ? "duplicate" : "product_unsatisfactory",
              memo: `Make-good for ${e.incidentId}`,
              metadata,
            },
            request,
          );
          providerId = note.id;
        } else {
          const refund = await stripe.refunds.create(
            {
              charge: charge.id,
              amount: e.amount,
              ...(d.reason && { reason: d.reason as Stripe.RefundCreateParams.Reason }),
              metadata,
            },
            request,
          );
          providerId = refund.id;
        }
      } else if (e.kind === "credit") {
        const txn = await stripe.customers.createBalanceTransaction(
          customer(e.customerId),
          {
            amount: -e.amount,
            currency: e.currency.toLowerCase(),
            description: `Make-good for ${e.incidentId}`,
            metadata,
          },
          request,
        );
        providerId = txn.id;
      } else {
        const price = options.unitPrices?.[e.currency] ?? options.unitPrices?.[String(d.unit)];
        if (!price)
          throw invalidField(
            "unit_prices",
            `no price for ${e.currency}; give one for "${e.currency}" or "${d.unit}"`,
          );
        const grant = await stripe.billing.creditGrants.create(
          {
            customer: customer(e.customerId),
            name: `${e.amount} free ${d.unit} (${e.incidentId})`,
            category: "promotional",
            amount: {
              type: "monetary",
              monetary: { value: e.amount * price.amount, currency: price.currency.toLowerCase() },
            },
            applicability_config: { scope: { price_type: "metered" } },
            ...(unix(d.expiresAt) && { expires_at: unix(d.expiresAt) }),
            ...(unix(d.visibleBy) && { effective_at: unix(d.visibleBy) }),
            metadata: {
              ...metadata,
              units: String(e.amount),
              unit: String(d.unit),
              scope: String(d.scope ?? ""),
            },
          },
          request,
        );
        providerId = grant.id;
      }
    } catch (err) {
      error = (err as Error).message;
      result.failed.push({ entry: e.id, key: e.idempotencyKey, error });
    }
    if (!error) result.sent++;
    await database.db
      .insert(billingExports)
      .values({
        workspaceId,
        entryId: e.id,
        target: "stripe",
        status: error ? "failed" : "sent",
        providerId: providerId ?? null,
        error: error ?? null,
        attempts: 1,
        updatedAt: options.now,
      })
      .onConflictDoUpdate({
        target: [billingExports.workspaceId, billingExports.entryId, billingExports.target],
        set: {
          status: error ? "failed" : "sent",
          providerId: providerId ?? null,
          error: error ?? null,
          attempts: sql`${billingExports.attempts} + 1`,
          updatedAt: options.now,
        },
      });
  }
  return result;
}

/** The charge to refund: named, or the one that billed the session. */
async function chargeOf(
  database: Database,
  workspaceId: string,
  charge: string | null | undefined,
  session: string | null | undefined,
) {
  if (!charge && !session) return undefined;
  const rows = await database.query<{ id: string; invoice_id: string | null }>(
    charge
      ? "select id, invoice_id from charges where workspace_id = $1 and id = $2"
      : "select id, invoice_id from charges where workspace_id = $1 and usage_ref = $2 and status = 'succeeded' order by created_at, id limit 1",
    [workspaceId, charge ?? session],
  );
  return rows[0];
}
