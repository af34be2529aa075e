/**
 * Customer webhooks signed per the Standard Webhooks spec (standardwebhooks.com): the body is
 * {type, timestamp, data}, `webhook-id` is the idempotency key so receivers can drop a redelivery,
 * and the HMAC secret (`whsec_…`) is the subscriber's own, from message.secrets.webhook_secret.
 */
import { Webhook } from "standardwebhooks";
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
      const signature = new Webhook(secret).sign(message.idempotencyKey, now, body);
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
