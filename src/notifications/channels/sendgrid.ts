/**
 * E-mail through SendGrid's v3 Mail Send: POST /v3/mail/send with a Bearer API key, one shared
 * content and up to 1000 `personalizations`, each its own `to`, `subject`, `headers`,
 * `custom_args` and `substitutions` (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/personalizations;
 * the limits: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors). Messages that
 * differ only by their unsubscribe link share one request: the link becomes a substitution tag
 * in the shared text and HTML, and each personalization carries its own value. Other differences
 * (language, event, subject) make separate requests.
 *
 * SendGrid answers 202 with an X-Message-Id for the whole request and says nothing per
 * recipient: outcomes arrive later through the Event Webhook (see receipts.ts). So each recipient
 * is recorded with our own id (`amendsId`, from the idempotency key), sent as custom_args
 * `amends_id`, which every event of that recipient carries back. A 400 naming one
 * personalization's address refuses the whole request; that recipient is failed (and
 * suppressed) and the others are sent again at once, since none of them was taken.
 *
 * Idempotency: SendGrid dedupes nothing across requests, so a request repeated after a lost reply
 * is sent again; a batch is recorded before the next one goes (see deliver.ts). The key-derived
 * Message-ID header and `amends_id` let a repeat be recognised downstream.
 */

import { escapeHtml } from "../../lib/html.ts";
import { amendsId, assertMailbox, mailDomain, mailHeaders, messageId } from "./email.ts";
import { describe, request } from "./http.ts";
import {
  type BatchOutcome,
  type ChannelSender,
  type OutgoingMessage,
  PermanentFailure,
  type SendResult,
  sendAsBatch,
} from "./types.ts";

export interface SendGridConfig {
  apiKey: string;
  /** "Amends <status@example.com>": a verified sender identity */
  from: string;
  /** default https://api.sendgrid.com */
  apiBase?: string;
  messageIdDomain?: string;
  timeoutMs?: number;
}

/** SendGrid's documented limit of personalizations (and of recipients) per request. */
export const SENDGRID_MAX_BATCH = 1000;

/** Substitution tags for the unsubscribe link in the shared bodies (HTML gets it escaped). */
export const UNSUBSCRIBE_TAG = "%amends_unsubscribe%";
export const UNSUBSCRIBE_HTML_TAG = "%amends_unsubscribe_html%";

/** "Name <addr>" or "addr", as SendGrid's `from` object. */
export function fromObject(from: string): { email: string; name?: string } {
  const m = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(from);
  return m ? { email: m[2]!.trim(), ...(m[1] && { name: m[1] }) } : { email: from.trim() };
}

interface Shared {
  subject: string;
  locale: string;
  text: string;
  html?: string;
}

/** The message with its unsubscribe link turned into tags: what recipients of one request share. */
function shared(message: OutgoingMessage): Shared {
  const url = message.unsubscribeUrl;
  const untag = (s: string, value: string, tag: string) => (url ? s.split(value).join(tag) : s);
  return {
    subject: message.subject,
    locale: message.locale,
    text: untag(message.text, url ?? "", UNSUBSCRIBE_TAG),
    ...(message.html && { html: untag(message.html, escapeHtml(url ?? ""), UNSUBSCRIBE_HTML_TAG) }),
  };
}

export function sendGridSender(config: SendGridConfig): ChannelSender {
  const url = `${(config.apiBase ?? "https://api.sendgrid.com").replace(/\/+$/, "")}/v3/mail/send`;
  const domain = mailDomain(config.from, config.messageIdDomain);
  const from = fromObject(config.from);

  const personalization = (message: OutgoingMessage) => ({
    to: [{ email: message.address }],
    subject: message.subject,
    headers: { "Message-ID": messageId(message.idempotencyKey, domain), ...mailHeaders(message) },
    custom_args: { amends_id: amendsId(message.idempotencyKey) },
    ...(message.unsubscribeUrl && {
      substitutions: {
        [UNSUBSCRIBE_TAG]: message.unsubscribeUrl,
        [UNSUBSCRIBE_HTML_TAG]: escapeHtml(message.unsubscribeUrl),
      },
    }),
  });

  /** One request for messages that share their content; each address at most once (SendGrid's rule). */
  const post = async (content: Shared, messages: OutgoingMessage[]): Promise<BatchOutcome[]> => {
    const outcomes: BatchOutcome[] = messages.map(() => new Error("sendgrid: not sent"));
    let left = messages.map((_, i) => i);
    // Each round either sends or fails at least one recipient, so this ends.
    while (left.length) {
      const reply = await request(url, {
        headers: { authorization: `Bearer ${config.apiKey}` },
        json: {
          personalizations: left.map((i) => personalization(messages[i]!)),
          from,
          subject: content.subject,
          content: [
            { type: "text/plain", value: content.text },
            ...(content.html ? [{ type: "text/html", value: content.html }] : []),
          ],
        },
        timeoutMs: config.timeoutMs,
        allowPrivate: true, // the operator's own API base
      });
      if (reply.status === 202) {
        for (const i of left)
          outcomes[i] = {
            provider: "sendgrid",
            providerMessageId: amendsId(messages[i]!.idempotencyKey),
          } satisfies SendResult;
        return outcomes;
      }
      const refused = reply.status === 400 ? refusedPersonalizations(reply.json) : [];
      const bad = new Set(refused.filter((k) => k < left.length).map((k) => left[k]!));
      // 401/403 (key, sender identity), 413, 429, 5xx, or a 400 that names no recipient: ours or theirs
      if (bad.size === 0) throw new Error(describe("sendgrid", reply));
      for (const i of bad)
        outcomes[i] = new PermanentFailure("sendgrid 400: invalid recipient address", true);
      left = left.filter((i) => !bad.has(i));
    }
    return outcomes;
  };

  const sendBatch = async (messages: OutgoingMessage[]): Promise<BatchOutcome[]> => {
    const outcomes: BatchOutcome[] = [];
    // Requests: per shared content, then so that no address appears twice in one.
    const requests: { content: Shared; indices: number[]; addresses: Set<string> }[] = [];
    const byContent = new Map<string, typeof requests>();
    for (const [i, m] of messages.entries()) {
      try {
        assertMailbox(m.address);
      } catch (err) {
        outcomes[i] = err as Error;
        continue;
      }
      const content = shared(m);
      const key = JSON.stringify(content);
      const candidates = byContent.get(key) ?? [];
      byContent.set(key, candidates);
      const address = m.address.toLowerCase();
      let target = candidates.find((r) => !r.addresses.has(address) && r.indices.length < SENDGRID_MAX_BATCH);
      if (!target) {
        target = { content, indices: [], addresses: new Set() };
        candidates.push(target);
        requests.push(target);
      }
      target.indices.push(i);
      target.addresses.add(address);
    }
    await Promise.all(
      requests.map(async ({ content, indices }) => {
        const results = await post(
          content,
          indices.map((i) => messages[i]!),
        ).catch((err: Error) => indices.map(() => err));
        for (const [k, i] of indices.entries()) outcomes[i] = results[k]!;
      }),
    );
    return outcomes;
  };

  return {
    channel: "email",
    provider: "sendgrid",
    maxBatch: SENDGRID_MAX_BATCH,
    sendBatch,
    send: sendAsBatch(sendBatch),
  };
}

/**
 * The personalizations a 400 refuses for their address: SendGrid's errors name the field, e.g.
 * `personalizations.3.to.0.email` ("Does not contain a valid address.").
 */
function refusedPersonalizations(body: Record<string, unknown> | undefined): number[] {
  const errors = Array.isArray(body?.errors) ? (body.errors as unknown[]) : [];
  return errors.flatMap((e) => {
    const field = (e as { field?: unknown })?.field;
    const m = typeof field === "string" ? /^personalizations\.(\d+)\.to\.\d+\.email$/.exec(field) : null;
    return m ? [Number(m[1])] : [];
  });
}
