/**
 * SMS through any HTTP gateway that takes a JSON POST with a bearer token: the field names of the
 * request and the path of the id in the response are configuration, so most aggregators fit
 * without code. The idempotency key goes both in the body and in an `Idempotency-Key` header.
 */
import { describe, field, request } from "./http.ts";
import { assertPhoneNumber } from "./sms.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface HttpSmsConfig {
  url: string;
  token?: string;
  /** default POST */
  method?: string;
  /** request field names (defaults: to, text, idempotency_key) */
  fields?: { to?: string; text?: string; idempotencyKey?: string };
  /** dotted path of the message id in the JSON response (default "id") */
  idField?: string;
  /** the provider name for failover and receipts (default "http-sms") */
  provider?: string;
  timeoutMs?: number;
}

export function httpSmsSender(config: HttpSmsConfig): ChannelSender {
  const provider = config.provider ?? "http-sms";
  const names = { to: "to", text: "text", idempotencyKey: "idempotency_key", ...config.fields };
  const idPath = (config.idField ?? "id").split(".");
  return {
    channel: "sms",
    provider,
    async send(message: OutgoingMessage): Promise<SendResult> {
      assertPhoneNumber(message.address);
      const headers: Record<string, string> = { "idempotency-key": message.idempotencyKey };
      if (config.token) headers.authorization = `Bearer ${config.token}`;
      const reply = await request(config.url, {
        method: config.method ?? "POST",
        headers,
        json: {
          [names.to]: message.address,
          [names.text]: message.text,
          [names.idempotencyKey]: message.idempotencyKey,
        },
        timeoutMs: config.timeoutMs,
        allowPrivate: true, // the operator's own gateway
      });
      if (reply.status >= 200 && reply.status < 300) {
        return { provider, providerMessageId: field(reply.json, ...idPath) };
      }
      // 401/403 are our token and 408/429 are pacing: retry (or fail over), the number is not at fault
      const ours = [401, 403, 408, 429].includes(reply.status);
      if (reply.status >= 400 && reply.status < 500 && !ours) {
        throw new PermanentFailure(describe(provider, reply));
      }
      throw new Error(describe(provider, reply));
    },
  };
}
