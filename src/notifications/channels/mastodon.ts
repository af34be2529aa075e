/**
 * Public status-page posts on Mastodon: POST {instance}/api/v1/statuses with a bearer token and
 * an `Idempotency-Key`, which Mastodon honours (for an hour), so a retry returns the status it
 * already made. Posts are cut to the instance's limit (500 by default) keeping the link, which
 * Mastodon counts as 23 characters whatever its length.
 */
import { describe, field, request } from "./http.ts";
import { fitWithUrl } from "./text.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface MastodonConfig {
  /** https://mastodon.example */
  instanceUrl: string;
  accessToken: string;
  /** default "public" */
  visibility?: "public" | "unlisted" | "private" | "direct";
  /** the instance's character limit (default 500) */
  maxChars?: number;
  timeoutMs?: number;
}

export const MASTODON_URL_LENGTH = 23;

export function mastodonSender(config: MastodonConfig): ChannelSender {
  const url = `${config.instanceUrl.replace(/\/+$/, "")}/api/v1/statuses`;
  return {
    channel: "mastodon",
    provider: "mastodon",
    async send(message: OutgoingMessage): Promise<SendResult> {
      const status = fitWithUrl(
        message.text,
        message.url,
        config.maxChars ?? 500,
        "grapheme",
        MASTODON_URL_LENGTH,
      );
      const reply = await request(url, {
        headers: { authorization: `Bearer ${config.accessToken}`, "idempotency-key": message.idempotencyKey },
        json: {
          status,
          visibility: config.visibility ?? "public",
          language: message.locale.split(/[-_]/)[0]!.toLowerCase(),
        },
        timeoutMs: config.timeoutMs,
        allowPrivate: true, // the operator's own instance
      });
      if (reply.status >= 200 && reply.status < 300) {
        return { provider: "mastodon", providerMessageId: field(reply.json, "id") };
      }
      // 422 is our post (too long, invalid): retrying cannot help. 401/403 are our token: retried.
      if (reply.status === 422 || reply.status === 400)
        throw new PermanentFailure(describe("mastodon", reply));
      throw new Error(describe("mastodon", reply));
    },
  };
}
