/**
 * Telegram Bot API sendMessage (address = chat id). With HTML parse mode, which is the default,
 * the subject is bold and everything we did not write is escaped, so a "<" in an incident title
 * cannot break the message. Telegram's limit is 4096 characters after entity parsing.
 */
import { escapeHtml } from "../../lib/html.ts";
import { field, request } from "./http.ts";
import { truncate } from "./text.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface TelegramConfig {
  botToken: string;
  /** default https://api.telegram.org */
  apiBase?: string;
  /** "HTML" (default) or "none" for plain text */
  parseMode?: "HTML" | "none";
  /** show a preview of message.url (default true) */
  linkPreview?: boolean;
  timeoutMs?: number;
}

/** 400 descriptions that mean the chat itself is gone, not that our request was malformed. */
const GONE_CHAT =
  /chat not found|user not found|chat_id is empty|upgraded to a supergroup|PEER_ID_INVALID|deactivated/i;

export function telegramSender(config: TelegramConfig): ChannelSender {
  const base = (config.apiBase ?? "https://api.telegram.org").replace(/\/+$/, "");
  const url = `${base}/bot${config.botToken}/sendMessage`;
  const html = (config.parseMode ?? "HTML") === "HTML";
  return {
    channel: "telegram",
    provider: "telegram",
    async send(message: OutgoingMessage): Promise<SendResult> {
      const link = message.url && !message.text.includes(message.url) ? `\n${message.url}` : "";
      const body = truncate(message.text, 4000 - message.subject.length - link.length);
      const text = html
        ? `<b>${escapeHtml(message.subject)}</b>\n${escapeHtml(body)}${escapeHtml(link)}`
        : `${message.subject}\n${body}${link}`;
      const reply = await request(url, {
        json: {
          chat_id: message.address,
          text,
          ...(html && { parse_mode: "HTML" }),
          link_preview_options:
            message.url && config.linkPreview !== false ? { url: message.url } : { is_disabled: true },
        },
        timeoutMs: config.timeoutMs,
        allowPrivate: true, // the operator's own API base
      });
      if (reply.json?.ok === true) {
        const chat = field(reply.json, "result", "chat", "id") ?? message.address;
        return {
          provider: "telegram",
          providerMessageId: `${chat}:${field(reply.json, "result", "message_id")}`,
        };
      }
      const code = Number(field(reply.json, "error_code") ?? reply.status);
      const detail = `telegram ${code}: ${field(reply.json, "description") ?? `answered ${reply.status}`}`;
      // 403: the bot was blocked, kicked, or the user deleted their account
      if (code === 403) throw new PermanentFailure(detail, true);
      if (code === 400) throw new PermanentFailure(detail, GONE_CHAT.test(detail));
      // 401/404 (our token), 429 (with parameters.retry_after) and 5xx: retried
      const retryAfter = field(reply.json, "parameters", "retry_after");
      throw new Error(retryAfter ? `${detail} (retry after ${retryAfter} s)` : detail);
    },
  };
}
