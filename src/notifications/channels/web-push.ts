/**
 * Browser push with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291), done by the
 * `web-push` package. We let it build the request (`generateRequestDetails`: encryption, VAPID
 * JWT, TTL/Topic/Urgency headers) and send it with fetch, so push shares the same deadline and
 * error handling as every other channel; `sendNotification` would be the same request over
 * https.request with only a socket-idle timeout. The Topic comes from the idempotency key, so
 * a retry replaces a still-undelivered notification instead of adding a second one.
 */
import webpush from "web-push";
import { describe, request } from "./http.ts";
import { keyDigest, truncate } from "./text.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface WebPushConfig {
  vapid: { publicKey: string; privateKey: string; subject: string };
  /** how long the push service keeps an undelivered message, in seconds (default one day) */
  ttlSeconds?: number;
  urgency?: "very-low" | "low" | "normal" | "high";
  timeoutMs?: number;
  /** tests only: push endpoints may be private addresses */
  allowPrivateTargets?: boolean;
}

/** ≤ 32 characters of URL-safe base64, as RFC 8030 requires of a Topic. */
export const pushTopic = (idempotencyKey: string) =>
  keyDigest(idempotencyKey).toString("base64url").slice(0, 32);

/** What the service worker receives (it shows `title`/`body` and opens `url` on click). */
export function pushPayload(message: OutgoingMessage): string {
  return JSON.stringify({
    title: message.subject,
    // an encrypted push message carries at most ~4 KB; leave room for the rest of the JSON
    body: truncate(message.text, 1000),
    url: message.url ?? (message.data?.confirm_url as string | undefined), // a confirmation opens its link
    tag: pushTopic(message.idempotencyKey),
    event: message.event,
    lang: message.locale,
  });
}

export function webPushSender(config: WebPushConfig): ChannelSender {
  return {
    applicationServerKey: config.vapid.publicKey,
    channel: "web_push",
    provider: "web_push",
    allowPrivateTargets: config.allowPrivateTargets,
    async send(message: OutgoingMessage): Promise<SendResult> {
      const { p256dh, auth } = message.secrets ?? {};
      // a subscription without its keys can never receive a payload
      if (!p256dh || !auth) throw new PermanentFailure("push subscription lacks p256dh/auth keys", true);
      const details = webpush.generateRequestDetails(
        { endpoint: message.address, keys: { p256dh, auth } },
        pushPayload(message),
        {
          vapidDetails: config.vapid,
          TTL: config.ttlSeconds ?? 86_400,
          topic: pushTopic(message.idempotencyKey),
          urgency: config.urgency ?? "high",
          contentEncoding: "aes128gcm",
        },
      );
      const headers = Object.fromEntries(
        Object.entries(details.headers)
          .filter(([name]) => name.toLowerCase() !== "content-length") // fetch sets it from the body
          .map(([name, value]) => [name, String(value)]),
      );
      const reply = await request(details.endpoint, {
        headers,
        body: new Uint8Array(details.body),
        timeoutMs: config.timeoutMs,
        allowPrivate: config.allowPrivateTargets,
      });
      if (reply.status >= 200 && reply.status < 300) {
        return { provider: "web_push", providerMessageId: reply.headers.get("location") ?? undefined };
      }
      // 404/410: the browser unsubscribed or the subscription expired
      if (reply.status === 404 || reply.status === 410) {
        throw new PermanentFailure(describe("web_push", reply), true);
      }
      // 400 malformed, 413 payload too large. 401/403 is our VAPID key: retried, not blamed on the subscriber
      if (reply.status === 400 || reply.status === 413)
        throw new PermanentFailure(describe("web_push", reply));
      throw new Error(describe("web_push", reply));
    },
  };
}
