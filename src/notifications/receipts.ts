/**
 * What providers tell us after a send: delivery receipts and bounces. A delivered message is
 * marked so; a hard failure (unknown or unreachable number, hard bounce, complaint) suppresses
 * the address so nothing is sent there again.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Database } from "../storage/database.ts";
import { suppressAddress } from "./suppressions.ts";

/**
 * Twilio signs each callback: base64 HMAC-SHA1, keyed by the auth token, of the callback URL
 * followed by every POST parameter's name and value in name order
 * (https://www.twilio.com/docs/usage/security#validating-requests). Five lines do not justify the
 * Twilio SDK.
 */
export function twilioSignatureValid(
  authToken: string,
  url: string,
  params: Record<string, string>,
  signature: string | undefined,
): boolean {
  if (!signature) return false;
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  const expected = Buffer.from(createHmac("sha1", authToken).update(data).digest("base64"));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Twilio error codes of a callback that mean the number will never receive: suppress it. */
const TWILIO_HARD = new Set(["30003", "30005", "30006", "21610", "21614"]);

export function twilioReceipt(params: Record<string, string>) {
  const status = params.MessageStatus ?? params.SmsStatus;
  if (status === "delivered") return { outcome: "delivered" as const };
  if (status === "undelivered" || status === "failed")
    return {
      outcome: "bounced" as const,
      error: `twilio ${status} ${params.ErrorCode ?? ""}`.trim(),
      suppress: TWILIO_HARD.has(params.ErrorCode ?? ""),
    };
  return undefined; // queued, sending, sent: nothing new
}

/** Applies a receipt to the delivery the provider's message id names; returns whether one matched. */
export async function recordReceipt(
  database: Database,
  receipt: {
    provider: string;
    messageId: string;
    outcome: "delivered" | "bounced";
    error?: string;
    suppress?: boolean;
  },
  now: Date,
): Promise<boolean> {
  const rows = await database.query<{ workspace_id: string; channel: string; address: string }>(
    `update deliveries set status = $3, last_error = $4, updated_at = $5
      where provider = $1 and provider_message_id = $2 and status in ('sent', 'delivered')
      returning workspace_id, channel, address`,
    [receipt.provider, receipt.messageId, receipt.outcome, receipt.error ?? null, now.toISOString()],
  );
  if (receipt.suppress)
    for (const r of rows)
      await suppressAddress(database, r.workspace_id, r.channel, r.address, receipt.error ?? "bounced", now);
  return rows.length > 0;
}
