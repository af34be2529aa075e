/**
 * Mastodon's POST /api/v1/statuses: bearer token, JSON or form body, Status entity in reply,
 * {error} bodies, the 500-character limit with links counted as 23, and Idempotency-Key
 * honoured as Mastodon does (same key from the same account → the same status, no new post).
 */
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Mastodon's counting: grapheme clusters, every http(s) link as 23. */
export function mastodonLength(text: string): number {
  const withoutLinks = text.replace(/https?:\/\/\S+/g, "x".repeat(23));
  return [...graphemes.segment(withoutLinks)].length;
}

export interface MastodonStatus {
  id: string;
  status: string;
  visibility: string;
  language: string | null;
  idempotencyKey?: string;
}

export class MastodonFake extends FakeHttpServer {
  readonly statuses: MastodonStatus[] = [];
  maxChars = 500;
  private readonly byKey = new Map<string, Reply>();
  private nextId = 109_000_000_000_000_000n;

  constructor(readonly token = "mastodon-token") {
    super();
  }

  protected override errorBody(status: number) {
    return {
      error: status === 429 ? "Too many requests" : status >= 500 ? "Internal server error" : "Error",
    };
  }

  protected route(req: Recorded): Reply {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return { status: 401, body: { error: "The access token is invalid" } };
    }
    if (req.method !== "POST" || req.path !== "/api/v1/statuses") {
      return { status: 404, body: { error: "Record not found" } };
    }
    const key = req.headers["idempotency-key"] as string | undefined;
    const stored = key && this.byKey.get(key);
    if (stored) return stored;
    const p = req.json ?? req.form ?? {};
    if (!p.status) return { status: 422, body: { error: "Validation failed: Text can't be blank" } };
    if (mastodonLength(p.status) > this.maxChars) {
      return {
        status: 422,
        body: { error: `Validation failed: Text character limit of ${this.maxChars} exceeded` },
      };
    }
    const id = String(this.nextId++);
    const status: MastodonStatus = {
      id,
      status: p.status,
      visibility: p.visibility ?? "public",
      language: p.language ?? null,
      idempotencyKey: key,
    };
    this.statuses.push(status);
    const reply: Reply = {
      status: 200,
      body: {
        id,
        created_at: new Date().toISOString(),
        visibility: status.visibility,
        language: status.language,
        uri: `${this.url}/users/amends/statuses/${id}`,
        url: `${this.url}/@amends/${id}`,
        content: `<p>${p.status}</p>`,
        account: { id: "1", username: "amends", acct: "amends" },
      },
    };
    if (key) this.byKey.set(key, reply);
    return reply;
  }
}
