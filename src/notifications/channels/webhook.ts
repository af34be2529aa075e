/**
 * Customer webhooks signed per the Standard Webhooks spec (standardwebhooks.com): the body is
 * {type, timestamp, data}, `webhook-id` is the idempotency key so receivers can drop a redelivery,
 * and the HMAC secret (`whsec_…`) is the subscriber's own, from message.secrets.webhook_secret.
 */
import { createHmac } from "node:crypto";
import { describe, request } from "./http.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface WebhookConfig {
  timeoutMs?: number;
  userAgent?: string;
  /** tests and closed networks only: subscribers' URLs may be private addresses */
  allowPrivateTargets?: boolean;
}

export function webhookSender(config: WebhookConfig = {}): ChannelSender {
  return {
    channel: "webhook",
    provider: "webhook",
    allowPrivateTargets: config.allowPrivateTargets,
    async send(message: OutgoingMessage): Promise<SendResult> {
      const secret = message.secrets?.webhook_secret;
      if (!secret) throw new PermanentFailure("webhook subscription has no webhook_secret");
      const now = new Date();
      const body = JSON.stringify({
        type: message.event,
        timestamp: now.toISOString(),
        data: message.data ?? {},
      });
      const signature = sign(secret, message.idempotencyKey, now, body);
      const reply = await request(message.address, {
        headers: {
          "content-type": "application/json",
          "user-agent": config.userAgent ?? "Amends-Webhooks/1",
          "webhook-id": message.idempotencyKey,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": signature,
        },
        body,
        timeoutMs: config.timeoutMs,
        allowPrivate: config.allowPrivateTargets,
      });
      if (reply.status >= 200 && reply.status < 300) {
        return { provider: "webhook", providerMessageId: message.idempotencyKey };
      }
      if (reply.status >= 300 && reply.status < 400) {
        throw new PermanentFailure(`${describe("webhook", reply)} (redirects are not followed)`);
      }
      // 410 Gone is the spec's way for a receiver to say "stop sending to this endpoint"
      if (reply.status === 410) throw new PermanentFailure(describe("webhook", reply), true);
      if (reply.status >= 400 && reply.status < 500 && reply.status !== 408 && reply.status !== 429) {
        throw new PermanentFailure(describe("webhook", reply));
      }
      throw new Error(describe("webhook", reply));
    },
  };
}

/** Decoded signing keys by secret: a fan-out signs thousands of messages with a few secrets. */
const keys = new Map<string, Buffer>();

/**
 * The Standard Webhooks signature, `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the
 * secret's base64 after `whsec_` (byte for byte what the `standardwebhooks` package signs, which
 * the tests verify with), through node:crypto rather than that package's JavaScript SHA-256.
 */
export function sign(secret: string, id: string, at: Date, body: string): string {
  let key = keys.get(secret);
  if (!key) {
    const encoded = secret.startsWith("whsec_") ? secret.slice(6) : secret;
    // As strict as the standard's own decoder: a malformed secret is refused, not read leniently.
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded) || !encoded)
      throw new Error("webhook_secret is not base64");
    key = Buffer.from(encoded, "base64");
    if (keys.size >= 1000) keys.clear();
    keys.set(secret, key);
  }
  const digest = createHmac("sha256", key).update(`${id}.${Math.floor(at.getTime() / 1000)}.${body}`);
  return `v1,${digest.digest("base64")}`;
}
