/**
 * Public posts on Bluesky through a PDS's XRPC API: createSession with an app password (the
 * access token is cached and renewed when the PDS says it expired), then createRecord of an
 * app.bsky.feed.post. The record key is a TID derived from the idempotency key, so a retry
 * names the same record and cannot post twice; when the PDS refuses it (today it answers 500
 * for an existing record, newer versions an explicit error) we look the record up and, if it is
 * there, the earlier attempt succeeded.
 */
import { describe, field, type HttpReply, request } from "./http.ts";
import { fitWithUrl, keyDigest } from "./text.ts";
import { type ChannelSender, type OutgoingMessage, PermanentFailure, type SendResult } from "./types.ts";

export interface BlueskyConfig {
  /** the account's PDS, default https://bsky.social */
  service?: string;
  /** handle or DID */
  identifier: string;
  /** an app password, never the account password */
  appPassword: string;
  timeoutMs?: number;
}

const COLLECTION = "app.bsky.feed.post";
const S32 = "234567abcdefghijklmnopqrstuvwxyz";

/**
 * A TID (13 characters of base32-sortable, top bit zero) made from the key's hash rather than
 * the clock: valid wherever the post lexicon wants a `tid` record key, and the same on every retry.
 */
export function tidFromKey(idempotencyKey: string): string {
  let n = keyDigest(idempotencyKey).readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  let out = "";
  for (let i = 0; i < 13; i++) {
    out = S32[Number(n & 31n)]! + out;
    n >>= 5n;
  }
  return out;
}

/** A link facet for `url` in `text`; Bluesky indexes facets by UTF-8 byte offsets. */
export function linkFacets(text: string, url: string | undefined) {
  if (!url) return [];
  const at = text.lastIndexOf(url);
  if (at < 0) return [];
  const byteStart = Buffer.byteLength(text.slice(0, at), "utf8");
  return [
    {
      index: { byteStart, byteEnd: byteStart + Buffer.byteLength(url, "utf8") },
      features: [{ $type: "app.bsky.richtext.facet#link", uri: url }],
    },
  ];
}

export function blueskySender(config: BlueskyConfig): ChannelSender {
  const service = (config.service ?? "https://bsky.social").replace(/\/+$/, "");
  const xrpc = (method: string) => `${service}/xrpc/${method}`;
  let session: Promise<{ accessJwt: string; did: string }> | undefined;

  async function login() {
    const reply = await request(xrpc("com.atproto.server.createSession"), {
      json: { identifier: config.identifier, password: config.appPassword },
      timeoutMs: config.timeoutMs,
      allowPrivate: true, // the operator's own service
    });
    const accessJwt = field(reply.json, "accessJwt");
    const did = field(reply.json, "did");
    // a refused login is our configuration, never the post's fault: retried (or failed over)
    if (reply.status !== 200 || !accessJwt || !did) throw new Error(describe("bluesky createSession", reply));
    return { accessJwt, did };
  }
  const currentSession = () => {
    session ??= login().catch((err) => {
      session = undefined;
      throw err;
    });
    return session;
  };

  const expired = (reply: HttpReply) =>
    reply.status === 401 || ["ExpiredToken", "InvalidToken"].includes(field(reply.json, "error") ?? "");

  return {
    channel: "bluesky",
    provider: "bluesky",
    async send(message: OutgoingMessage): Promise<SendResult> {
      const text = fitWithUrl(message.text, message.url, 300, "grapheme");
      const rkey = tidFromKey(message.idempotencyKey);
      const record = {
        $type: COLLECTION,
        text,
        createdAt: new Date().toISOString(),
        langs: [message.locale],
        facets: linkFacets(text, message.url),
      };
      const create = async () => {
        const { accessJwt, did } = await currentSession();
        const reply = await request(xrpc("com.atproto.repo.createRecord"), {
          headers: { authorization: `Bearer ${accessJwt}` },
          json: { repo: did, collection: COLLECTION, rkey, record },
          timeoutMs: config.timeoutMs,
          allowPrivate: true,
        });
        return { reply, did };
      };
      let { reply, did } = await create();
      if (expired(reply)) {
        session = undefined;
        ({ reply, did } = await create());
      }
      if (reply.status === 200) return { provider: "bluesky", providerMessageId: field(reply.json, "uri") };

      const conflict =
        reply.status >= 500 ||
        reply.status === 409 ||
        /exist/i.test(`${field(reply.json, "error")} ${field(reply.json, "message")}`);
      if (conflict) {
        const found = await request(
          `${xrpc("com.atproto.repo.getRecord")}?${new URLSearchParams({ repo: did, collection: COLLECTION, rkey })}`,
          { method: "GET", timeoutMs: config.timeoutMs, allowPrivate: true },
        ).catch(() => undefined);
        const uri = found?.status === 200 ? field(found.json, "uri") : undefined;
        if (uri) return { provider: "bluesky", providerMessageId: uri };
      }
      if (reply.status === 400 && !expired(reply) && !conflict) {
        throw new PermanentFailure(describe("bluesky", reply));
      }
      throw new Error(describe("bluesky", reply));
    },
  };
}
