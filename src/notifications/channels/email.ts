/**
 * E-mail over SMTP with a pooled nodemailer transport. The Message-ID is derived from the
 * idempotency key, so a retry after a lost reply carries the same id and receivers (and our own
 * bounce handling) can tell it is the same message. RFC 8058 one-click unsubscribe headers are
 * added whenever the message has an unsubscribe link; Content-Language names the message's locale.
 */
import nodemailer from "nodemailer";
import { keyDigest } from "./text.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface SmtpConfig {
  /** smtp://user:pass@host:587 or smtps://…:465 */
  url: string;
  /** "Amends <status@example.com>" */
  from: string;
  /** the right-hand side of Message-IDs; defaults to the domain of `from` */
  messageIdDomain?: string;
  /** pooled connections (default 5) */
  maxConnections?: number;
  timeoutMs?: number;
  provider?: string;
}

/**
 * A message's stable id, from its idempotency key: the same on every retry, 32 hex characters
 * whatever the key holds (fits providers' metadata limits).
 */
export const amendsId = (idempotencyKey: string) => keyDigest(idempotencyKey).toString("hex").slice(0, 32);

/** `<amendsId@domain>`: a valid msg-id (RFC 5322) whatever characters the key has. */
export function messageId(idempotencyKey: string, domain: string): string {
  return `<${amendsId(idempotencyKey)}@${domain}>`;
}

/** The domain of Message-IDs: the configured one, else the domain of the From address. */
export const mailDomain = (from: string, configured?: string) =>
  configured ?? /@([^>\s]+)/.exec(from)?.[1] ?? "amends.invalid";

/**
 * The headers every e-mail carries, whichever provider sends it: the message's language, for mail
 * clients that offer to translate or read aloud (RFC 3282), and RFC 8058 one-click unsubscribe
 * when there is a link.
 */
export function mailHeaders(message: OutgoingMessage): Record<string, string> {
  const headers: Record<string, string> = { "Content-Language": message.locale };
  if (message.unsubscribeUrl) {
    headers["List-Unsubscribe"] = `<${message.unsubscribeUrl}>`;
    headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
  }
  return headers;
}

/**
 * One plain mailbox, for APIs whose recipient field also takes a list or a display name: a
 * comma, bracket or quote there would address someone else. Subscriptions check addresses when
 * they are entered; this is the last line before a provider.
 */
export function assertMailbox(address: string): void {
  if (!/^[^\s@,;:<>()[\]"\\]+@[^\s@,;:<>()[\]"\\]+\.[^\s@,;:<>()[\]"\\]+$/.test(address))
    throw new PermanentFailure("not a plain e-mail address", true);
}

interface SmtpError extends Error {
  responseCode?: number;
  command?: string;
}

export function smtpSender(config: SmtpConfig): ChannelSender {
  const timeout = config.timeoutMs ?? 10_000;
  const transport = nodemailer.createTransport({
    url: config.url,
    pool: true,
    maxConnections: config.maxConnections ?? 5,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout * 3,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  const domain = mailDomain(config.from, config.messageIdDomain);
  const provider = config.provider ?? "smtp";

  return {
    channel: "email",
    provider,
    async send(message: OutgoingMessage): Promise<SendResult> {
      const headers = mailHeaders(message);
      try {
        const info = await transport.sendMail({
          from: config.from,
          to: message.address,
          subject: message.subject,
          text: message.text,
          ...(message.html && { html: message.html }),
          messageId: messageId(message.idempotencyKey, domain),
          headers,
        });
        return { provider, providerMessageId: info.messageId };
      } catch (err) {
        throw classify(err as SmtpError);
      }
    },
    async close() {
      transport.close();
    },
  };
}

/**
 * 5xx on RCPT TO is a hard bounce of that address; 5xx on DATA is this message being refused
 * (content, size), which retrying cannot fix. Everything else (4xx greylisting, MAIL FROM or
 * authentication problems on our side, dropped connections) is retried.
 */
function classify(err: SmtpError): Error {
  const code = err.responseCode ?? 0;
  if (code >= 500 && err.command === "RCPT TO") return new PermanentFailure(err.message, true);
  if (code >= 500 && err.command === "DATA") return new PermanentFailure(err.message, false);
  return err;
}
