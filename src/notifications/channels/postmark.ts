/**
 * E-mail through Postmark's batch endpoint: POST /email/batch, a JSON array of up to 500 messages
 * (each its own From, To, Subject, TextBody, HtmlBody, Headers, Metadata, MessageStream),
 * authenticated by X-Postmark-Server-Token
 * (https://postmarkapp.com/developer/user-guide/send-email-with-api/batch-emails). The reply is
 * 200 even when some messages fail: an array in the order sent, each with ErrorCode 0 and a
 * MessageID when taken, else the code of why not (https://postmarkapp.com/developer/api/overview#error-codes).
 * A request refused as a whole (401 token, 422, 429, 5xx, no reply) is that error for each message.
 *
 * Idempotency: Postmark dedupes nothing, so a batch repeated after a lost reply is sent again;
 * that is why a batch is recorded before the next one goes (see deliver.ts). Each message carries
 * what lets a repeat be recognised downstream: a Message-ID header derived from the idempotency
 * key as over SMTP, and Metadata `amends_id` (the same digest: Metadata values are limited to 80
 * characters, keys can be longer), which Postmark hands back in its webhooks. Receipts are matched
 * by Postmark's MessageID, which its bounce and delivery webhooks carry (see receipts.ts).
 */
import { amendsId, assertMailbox, mailDomain, mailHeaders, messageId } from "./email.ts";
import { describe, request } from "./http.ts";
import {
  type BatchOutcome,
  type ChannelSender,
  type OutgoingMessage,
  PermanentFailure,
  sendAsBatch,
} from "./types.ts";

export interface PostmarkConfig {
  serverToken: string;
  /** "Amends <status@example.com>": a confirmed sender signature or domain */
  from: string;
  /** "outbound" (transactional, the default) or a broadcast stream's id */
  messageStream?: string;
  /** default https://api.postmarkapp.com */
  apiBase?: string;
  messageIdDomain?: string;
  timeoutMs?: number;
}

/** Postmark's documented batch limit. */
export const POSTMARK_MAX_BATCH = 500;

/** The per-message codes that say something about the recipient; the rest are our account's or Postmark's. */
const INACTIVE_RECIPIENT = 406; // hard bounce, spam complaint or manual suppression on Postmark's side
const INVALID_REQUEST = 300; // this message is malformed (address, empty body): retrying cannot help

export function postmarkSender(config: PostmarkConfig): ChannelSender {
  const url = `${(config.apiBase ?? "https://api.postmarkapp.com").replace(/\/+$/, "")}/email/batch`;
  const domain = mailDomain(config.from, config.messageIdDomain);
  const stream = config.messageStream ?? "outbound";

  const toPostmark = (message: OutgoingMessage) => ({
    From: config.from,
    To: message.address,
    Subject: message.subject,
    TextBody: message.text,
    ...(message.html && { HtmlBody: message.html }),
    Headers: Object.entries({
      "Message-ID": messageId(message.idempotencyKey, domain),
      ...mailHeaders(message),
    }).map(([Name, Value]) => ({ Name, Value })),
    Metadata: { amends_id: amendsId(message.idempotencyKey) },
    MessageStream: stream,
  });

  const sendBatch = async (messages: OutgoingMessage[]): Promise<BatchOutcome[]> => {
    // A malformed address is refused here, alone, rather than risk the whole request.
    const outcomes: (BatchOutcome | undefined)[] = messages.map((m) => {
      try {
        assertMailbox(m.address);
        return undefined;
      } catch (err) {
        return err as Error;
      }
    });
    const sending = messages.filter((_, i) => !outcomes[i]);
    if (sending.length === 0) return outcomes as BatchOutcome[];
    const reply = await request(url, {
      headers: { "x-postmark-server-token": config.serverToken },
      json: sending.map(toPostmark),
      timeoutMs: config.timeoutMs,
      allowPrivate: true, // the operator's own API base
    });
    let results: unknown;
    try {
      results = reply.status === 200 ? JSON.parse(reply.text) : undefined;
    } catch {
      results = undefined;
    }
    if (!Array.isArray(results) || results.length !== sending.length) {
      const code = reply.json?.ErrorCode;
      throw new Error(
        reply.status === 200
          ? "postmark answered 200 without one result per message"
          : `${describe("postmark", reply)}${typeof code === "number" ? ` (ErrorCode ${code})` : ""}`,
      );
    }
    let next = 0;
    return outcomes.map((o) => o ?? outcome(results[next++]));
  };

  return {
    channel: "email",
    provider: "postmark",
    maxBatch: POSTMARK_MAX_BATCH,
    sendBatch,
    send: sendAsBatch(sendBatch),
  };
}

/** One message's result in Postmark's batch reply, in our words (its Message text stays out). */
function outcome(result: unknown): BatchOutcome {
  const r = (result ?? {}) as { ErrorCode?: unknown; MessageID?: unknown };
  const code = typeof r.ErrorCode === "number" ? r.ErrorCode : -1;
  if (code === 0 && typeof r.MessageID === "string" && r.MessageID)
    return { provider: "postmark", providerMessageId: r.MessageID };
  if (code === INACTIVE_RECIPIENT)
    return new PermanentFailure("postmark 406: inactive recipient (bounced or complained)", true);
  if (code === INVALID_REQUEST) return new PermanentFailure("postmark 300: invalid email request", false);
  // 400/401 sender signature, 405/412/413 account, 429 rate: ours to fix, so another provider or later
  return new Error(`postmark ErrorCode ${code}`);
}
