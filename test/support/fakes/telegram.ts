/**
 * The Telegram Bot API's sendMessage: POST /bot{token}/sendMessage with a JSON body, answers
 * {ok:true, result: Message} or {ok:false, error_code, description, parameters?}. Checks the HTML
 * parse mode the way Telegram does (only its tags, every other < > & escaped) and the
 * 4096-character limit. Chats can be scripted as blocked (403) or missing (400).
 */
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

const TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "a",
  "code",
  "pre",
  "span",
  "tg-spoiler",
  "blockquote",
]);

/** The text Telegram would display, or an error description when the HTML does not parse. */
export function parseTelegramHtml(text: string): { plain: string } | { error: string } {
  const withoutTags = text.replace(/<\/?([a-z-]+)(\s[^<>]*)?>/g, (tag, name: string) =>
    TAGS.has(name) ? "" : tag,
  );
  if (/[<>]/.test(withoutTags)) return { error: "Bad Request: can't parse entities: Unsupported start tag" };
  if (/&(?!(lt|gt|amp|quot|#\d+);)/.test(withoutTags)) {
    return { error: "Bad Request: can't parse entities: Character '&' is reserved" };
  }
  const plain = withoutTags
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
  return { plain };
}

export interface TelegramMessage {
  message_id: number;
  chat_id: string;
  /** what the user sees (HTML parsed) */
  text: string;
  request: any;
}

export class TelegramFake extends FakeHttpServer {
  readonly messages: TelegramMessage[] = [];
  readonly blocked = new Set<string>();
  readonly missing = new Set<string>();
  private nextId = 1;

  constructor(readonly token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11") {
    super();
  }

  protected override errorBody(status: number) {
    const description =
      status === 429
        ? "Too Many Requests: retry after 5"
        : status >= 500
          ? "Internal Server Error"
          : "Bad Request";
    return {
      ok: false,
      error_code: status,
      description,
      ...(status === 429 && { parameters: { retry_after: 5 } }),
    };
  }

  private error(error_code: number, description: string): Reply {
    return { status: error_code, body: { ok: false, error_code, description } };
  }

  protected route(req: Recorded): Reply {
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.path);
    if (!match) return this.error(404, "Not Found");
    if (match[1] !== this.token) return this.error(401, "Unauthorized");
    if (match[2] !== "sendMessage") return this.error(404, "Not Found");
    const p = req.json ?? req.form ?? {};
    const chat = String(p.chat_id ?? "");
    if (!chat) return this.error(400, "Bad Request: chat_id is empty");
    if (!p.text) return this.error(400, "Bad Request: message text is empty");
    if (this.missing.has(chat)) return this.error(400, "Bad Request: chat not found");
    if (this.blocked.has(chat)) return this.error(403, "Forbidden: bot was blocked by the user");
    const parsed = p.parse_mode === "HTML" ? parseTelegramHtml(p.text) : { plain: p.text as string };
    if ("error" in parsed) return this.error(400, parsed.error);
    if (parsed.plain.length > 4096) return this.error(400, "Bad Request: message is too long");
    const message_id = this.nextId++;
    this.messages.push({ message_id, chat_id: chat, text: parsed.plain, request: p });
    return {
      status: 200,
      body: {
        ok: true,
        result: {
          message_id,
          from: { id: 123456, is_bot: true, first_name: "Amends", username: "amends_bot" },
          chat: { id: Number(chat), type: Number(chat) < 0 ? "supergroup" : "private" },
          date: Math.floor(Date.now() / 1000),
          text: parsed.plain,
        },
      },
    };
  }
}
