/**
 * A PDS speaking the three XRPC calls the Bluesky sender makes: createSession (app password →
 * accessJwt/refreshJwt/did), createRecord (bearer auth, post validation: TID rkey, ≤300
 * graphemes, facets inside the text's UTF-8 bytes) and getRecord. Like today's reference PDS,
 * creating a record whose rkey exists answers 500 InternalServerError; `duplicateError` scripts
 * an explicit 400 instead. `expireSessions()` makes current tokens answer 400 ExpiredToken.
 */
import { createHash, randomBytes } from "node:crypto";
import { FakeHttpServer, type Recorded, type Reply } from "./server.ts";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const TID = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

export interface BlueskyPost {
  rkey: string;
  uri: string;
  cid: string;
  record: any;
}

export class BlueskyFake extends FakeHttpServer {
  readonly posts = new Map<string, BlueskyPost>();
  readonly did = "did:plc:amendsstatus000000000000";
  sessionsCreated = 0;
  /** answer duplicates with this 400 error instead of the reference PDS's 500 */
  duplicateError: string | undefined;
  private readonly tokens = new Map<string, "valid" | "expired">();

  constructor(
    readonly handle = "status.example.com",
    readonly appPassword = "abcd-efgh-ijkl-mnop",
  ) {
    super();
  }

  expireSessions() {
    for (const token of this.tokens.keys()) this.tokens.set(token, "expired");
  }

  protected override errorBody(status: number) {
    return status === 429
      ? { error: "RateLimitExceeded", message: "Rate Limit Exceeded" }
      : { error: "InternalServerError", message: "Internal Server Error" };
  }

  private error(status: number, error: string, message: string): Reply {
    return { status, body: { error, message } };
  }

  protected route(req: Recorded): Reply {
    const [path, query] = req.path.split("?");
    if (path === "/xrpc/com.atproto.server.createSession" && req.method === "POST") {
      const { identifier, password } = req.json ?? {};
      if ((identifier !== this.handle && identifier !== this.did) || password !== this.appPassword) {
        return this.error(401, "AuthenticationRequired", "Invalid identifier or password");
      }
      this.sessionsCreated++;
      const accessJwt = `access.${randomBytes(16).toString("base64url")}`;
      this.tokens.set(accessJwt, "valid");
      return {
        status: 200,
        body: {
          did: this.did,
          handle: this.handle,
          accessJwt,
          refreshJwt: `refresh.${randomBytes(16).toString("base64url")}`,
          active: true,
        },
      };
    }
    if (path === "/xrpc/com.atproto.repo.getRecord" && req.method === "GET") {
      const p = new URLSearchParams(query);
      const post =
        p.get("repo") === this.did &&
        p.get("collection") === "app.bsky.feed.post" &&
        this.posts.get(p.get("rkey")!);
      if (!post)
        return this.error(
          400,
          "RecordNotFound",
          `Could not locate record: at://${p.get("repo")}/${p.get("collection")}/${p.get("rkey")}`,
        );
      return { status: 200, body: { uri: post.uri, cid: post.cid, value: post.record } };
    }
    if (path === "/xrpc/com.atproto.repo.createRecord" && req.method === "POST") {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const state = token && this.tokens.get(token);
      if (!state) return this.error(401, "AuthenticationRequired", "Authentication Required");
      if (state === "expired") return this.error(400, "ExpiredToken", "Token has expired");
      const { repo, collection, rkey, record } = req.json ?? {};
      if (repo !== this.did) return this.error(400, "InvalidRequest", "Invalid repo");
      if (collection !== "app.bsky.feed.post" || record?.$type !== collection) {
        return this.error(400, "InvalidRequest", "Invalid collection or $type");
      }
      if (rkey !== undefined && !TID.test(rkey))
        return this.error(400, "InvalidRequest", "Invalid record key: must be a TID");
      const problem = this.invalidPost(record);
      if (problem) return this.error(400, "InvalidRecord", problem);
      const key = rkey ?? randomBytes(7).toString("hex").slice(0, 13);
      if (this.posts.has(key)) {
        return this.duplicateError
          ? this.error(400, this.duplicateError, "Record already exists")
          : this.error(500, "InternalServerError", "Internal Server Error");
      }
      const uri = `at://${this.did}/${collection}/${key}`;
      const cid = `bafyrei${createHash("sha256").update(JSON.stringify(record)).digest("hex").slice(0, 52)}`;
      this.posts.set(key, { rkey: key, uri, cid, record });
      return {
        status: 200,
        body: {
          uri,
          cid,
          commit: { cid: `bafyrei${randomBytes(26).toString("hex")}`, rev: key },
          validationStatus: "valid",
        },
      };
    }
    return this.error(404, "MethodNotImplemented", "Method Not Implemented");
  }

  private invalidPost(record: any): string | undefined {
    if (typeof record.text !== "string") return "Record/text must be a string";
    if ([...graphemes.segment(record.text)].length > 300)
      return "Record/text must not be longer than 300 graphemes";
    if (Buffer.byteLength(record.text) > 3000) return "Record/text must not be longer than 3000 characters";
    if (Number.isNaN(Date.parse(record.createdAt))) return "Record/createdAt must be a valid datetime";
    const bytes = Buffer.byteLength(record.text);
    for (const facet of record.facets ?? []) {
      const { byteStart, byteEnd } = facet.index ?? {};
      if (
        !(Number.isInteger(byteStart) && Number.isInteger(byteEnd) && byteStart < byteEnd && byteEnd <= bytes)
      ) {
        return "Record/facets/index is out of range";
      }
    }
    return undefined;
  }
}
