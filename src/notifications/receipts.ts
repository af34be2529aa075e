/**
 * What providers tell us after a send: delivery receipts and bounces. A delivered message is
 * marked so; a hard failure (unknown or unreachable number, hard bounce, complaint) suppresses
 * the address so nothing is sent there again. Each provider's webhook is authenticated its own
 * way (Twilio and SendGrid sign, Postmark sends HTTP Basic credentials) and mapped here onto
 * one receipt; `recordReceipt` finds the delivery by (provider, provider_message_id).
 */
import { createHmac, createPublicKey, timingSafeEqual, verify } from "node:crypto";
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

export interface ReceiptSettings {
  /** Twilio status callbacks: the auth token that signs them and the URL Twilio was given */
  twilio?: { authToken: string; callbackUrl: string };
  /** Postmark webhooks: the HTTP Basic credentials configured on the webhook */
  postmark?: { user: string; password: string };
  /** SendGrid's Signed Event Webhook: its verification key (base64 DER, as SendGrid shows it, or PEM) */
  sendgrid?: { publicKey: string };
}

type Env = Record<string, string | undefined>;

/** Which receipt endpoints are on, from the environment (see channels/index.ts for the senders). */
export function receiptsFromEnv(env: Env = process.env): ReceiptSettings {
  const receipts: ReceiptSettings = {};
  if (env.TWILIO_AUTH_TOKEN && env.TWILIO_STATUS_CALLBACK)
    receipts.twilio = { authToken: env.TWILIO_AUTH_TOKEN, callbackUrl: env.TWILIO_STATUS_CALLBACK };
  if (env.POSTMARK_WEBHOOK_USER || env.POSTMARK_WEBHOOK_PASSWORD) {
    if (!env.POSTMARK_WEBHOOK_USER || !env.POSTMARK_WEBHOOK_PASSWORD)
      throw new Error("POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD are set together");
    receipts.postmark = { user: env.POSTMARK_WEBHOOK_USER, password: env.POSTMARK_WEBHOOK_PASSWORD };
  }
  if (env.SENDGRID_WEBHOOK_PUBLIC_KEY) {
    receipts.sendgrid = { publicKey: env.SENDGRID_WEBHOOK_PUBLIC_KEY };
    sendGridVerifier(receipts.sendgrid.publicKey); // a key that does not parse stops the start, not every post
  }
  return receipts;
}

const equal = (a: string, b: string) => {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
};

/** An `Authorization: Basic …` header carrying exactly these credentials. */
export function basicAuthValid(header: string | undefined, user: string, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? "");
  if (!m) return false;
  const given = Buffer.from(m[1]!, "base64").toString("utf8");
  // Both compared whatever the first says, so the time taken tells nothing.
  const sep = given.indexOf(":");
  const userOk = equal(given.slice(0, Math.max(0, sep)), user);
  const passwordOk = equal(given.slice(sep + 1), password);
  return sep >= 0 && userOk && passwordOk;
}

/**
 * Postmark's webhook records (https://postmarkapp.com/developer/webhooks/webhooks-overview), one
 * per POST: Delivery; Bounce with its Type and whether Postmark made the address Inactive;
 * SpamComplaint. An address Postmark deactivated would be refused (406) anyway: suppress it.
 */
const POSTMARK_HARD = new Set(["HardBounce", "BadEmailAddress", "SpamComplaint", "ManuallyDeactivated"]);

export function postmarkReceipt(record: { RecordType: string; Type?: string; Inactive?: boolean }) {
  if (record.RecordType === "Delivery") return { outcome: "delivered" as const };
  if (record.RecordType !== "Bounce" && record.RecordType !== "SpamComplaint") return undefined; // opens, clicks
  const type = record.RecordType === "SpamComplaint" ? "SpamComplaint" : (record.Type ?? "Unknown");
  return {
    outcome: "bounced" as const,
    error: `postmark ${type}`,
    suppress: record.Inactive === true || POSTMARK_HARD.has(type),
  };
}

/**
 * SendGrid's Signed Event Webhook: ECDSA (P-256, SHA-256) over the timestamp header followed by
 * the raw body, base64 DER in X-Twilio-Email-Event-Webhook-Signature
 * (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
 * node:crypto verifies it; SendGrid's helper library would add a dependency for one call.
 */
export function sendGridVerifier(publicKey: string) {
  const key = publicKey.includes("BEGIN PUBLIC KEY")
    ? createPublicKey(publicKey)
    : createPublicKey({ key: Buffer.from(publicKey, "base64"), format: "der", type: "spki" });
  return (payload: Buffer, signature: string | undefined, timestamp: string | undefined): boolean => {
    if (!signature || !timestamp) return false;
    try {
      return verify(
        "sha256",
        Buffer.concat([Buffer.from(timestamp), payload]),
        key,
        Buffer.from(signature, "base64"),
      );
    } catch {
      return false;
    }
  };
}

/** `dropped` reasons that mean the address itself will not take mail. */
const SENDGRID_DROPPED_HARD = new Set([
  "Bounced Address",
  "Invalid",
  "Spam Reporting Address",
  "Unsubscribed Address",
]);

/**
 * One event of SendGrid's Event Webhook (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event):
 * delivered; bounce (type "bounce" is permanent, "blocked" is the receiving server refusing for
 * now); dropped (SendGrid did not send, with a reason); spamreport. processed, deferred, opens and
 * clicks say nothing new.
 */
export function sendGridReceipt(event: { event: string; type?: string; reason?: string }) {
  switch (event.event) {
    case "delivered":
      return { outcome: "delivered" as const };
    case "bounce":
      return event.type === "blocked"
        ? { outcome: "bounced" as const, error: "sendgrid blocked", suppress: false }
        : { outcome: "bounced" as const, error: "sendgrid bounce", suppress: true };
    case "dropped": {
      const hard = SENDGRID_DROPPED_HARD.has(event.reason ?? "");
      return {
        outcome: "bounced" as const,
        error: hard ? "sendgrid dropped: address" : "sendgrid dropped",
        suppress: hard,
      };
    }
    case "spamreport":
      return { outcome: "bounced" as const, error: "sendgrid spam report", suppress: true };
    default:
      return undefined;
  }
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
