/**
 * The public page survives the stampede and the database: every document (HTML, JSON, feeds)
 * is rendered once from an in-memory snapshot of the page's state, compressed once (gzip and
 * brotli) and served with an ETag, so a request never touches the database. A write
 * invalidates the snapshot (in this process directly, in others by NOTIFY); a timer bounds
 * its age for time-driven changes (a promised update going overdue). When the database cannot
 * be read, the last snapshot keeps being served, marked stale.
 */
import { createHash } from "node:crypto";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { FastifyReply, FastifyRequest } from "fastify";
import { contentSecurityPolicyFor } from "../http/security-headers.ts";
import { observeSnapshotRebuild, type SnapshotName } from "../lib/metrics.ts";
import { FORM_TIME_FIELD } from "../reports/form-token.ts";

export interface Doc {
  type: string;
  body: Buffer;
  gzip: Buffer;
  br: Buffer;
  etag: string;
  /** an HTML page's Content-Security-Policy, allowing its own inline styles (a brand's accent) by hash */
  csp?: string;
}

export function makeDoc(type: string, content: string | Buffer): Doc {
  const body = typeof content === "string" ? Buffer.from(content) : content;
  const tokenless = typeof content === "string" ? content.replace(FORM_TIME_FIELD, "") : content;
  const hash = createHash("sha1").update(tokenless).digest("base64url");
  return {
    type,
    body,
    gzip: gzipSync(body, { level: 6 }),
    br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
    // Pages differing only in the report form's token are the same page to a reader.
    etag: tokenless === content ? `"${hash}"` : `W/"${hash}"`,
    ...(typeof content === "string" &&
      /^text\/html/.test(type) && { csp: contentSecurityPolicyFor(content) }),
  };
}

export interface Snapshot<S> {
  state: S;
  builtAt: number;
  /** the cache's generation when the load began: it shows every change announced before that */
  generation: number;
  /** set when the last rebuild failed and this snapshot is older than it should be */
  staleSince: number | null;
  docs: Map<string, Doc>;
}

/**
 * A snapshot, rebuilt on demand. Each invalidation starts a new generation; a snapshot counts as
 * current only if its load began in the latest one, so a rebuild already under way when a change
 * is announced (it may have read the database before the change) never answers for it.
 */
export class SnapshotCache<S> {
  private snapshot: Snapshot<S> | undefined;
  private generation = 0;
  private building: { generation: number; done: Promise<Snapshot<S>> } | undefined;

  constructor(
    private readonly load: () => Promise<S>,
    private readonly now: () => number,
    /** how old a snapshot may grow before it is rebuilt for time-driven changes */
    private readonly maxAgeMs: () => number = () => 15_000,
    /** what its rebuilds are counted as in the metrics */
    private readonly name: SnapshotName = "page",
  ) {}

  invalidate(): void {
    this.generation++;
  }

  /**
   * After a change the next request waits for the new state (a change is visible at once); a
   * snapshot that is merely old (times on the page move on) is served while it is rebuilt in
   * the background, so no request queues behind the database.
   */
  async current(): Promise<Snapshot<S>> {
    const s = this.snapshot;
    if (s && s.generation === this.generation && s.staleSince === null) {
      if (this.now() - s.builtAt >= this.maxAgeMs()) this.refresh().catch(() => {});
      return s;
    }
    return this.refresh();
  }

  /** Joins the rebuild of the current generation, or starts one. */
  private refresh(): Promise<Snapshot<S>> {
    const generation = this.generation;
    if (this.building?.generation !== generation) {
      const done = this.rebuild(generation).finally(() => {
        if (this.building?.done === done) this.building = undefined;
      });
      this.building = { generation, done };
    }
    return this.building.done;
  }

  private async rebuild(generation: number): Promise<Snapshot<S>> {
    const start = performance.now();
    try {
      const state = await this.load();
      observeSnapshotRebuild(this.name, true, (performance.now() - start) / 1000);
      // A rebuild of a later generation may have finished first: never replace it with an older one.
      if (!this.snapshot || this.snapshot.generation <= generation)
        this.snapshot = { state, builtAt: this.now(), generation, staleSince: null, docs: new Map() };
    } catch (err) {
      observeSnapshotRebuild(this.name, false, (performance.now() - start) / 1000);
      if (!this.snapshot) throw err;
      // Keep serving what we had; say how old it is. Its generation stays behind, so the next
      // request tries again.
      if (this.snapshot.staleSince === null)
        this.snapshot = { ...this.snapshot, staleSince: this.now(), docs: new Map() };
    }
    return this.snapshot;
  }
}

/** A document of the snapshot, rendered on first use. */
export function docOf<S>(
  snapshot: Snapshot<S>,
  key: string,
  render: () => { type: string; content: string | Buffer },
): Doc {
  let doc = snapshot.docs.get(key);
  if (!doc) {
    const r = render();
    doc = makeDoc(r.type, r.content);
    snapshot.docs.set(key, doc);
  }
  return doc;
}

export const PUBLIC_CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400";

/** If-None-Match against an ETag (weak comparison, as GET allows). */
export const etagMatches = (ifNoneMatch: string, etag: string) =>
  ifNoneMatch === etag || ifNoneMatch.split(",").some((t) => t.trim() === etag || t.trim() === "*");

/** Sends a document: 304 on a matching ETag, else brotli, gzip or identity as the client accepts. */
export function sendDoc(
  req: FastifyRequest,
  reply: FastifyReply,
  doc: Doc,
  extraHeaders: Record<string, string> = {},
) {
  reply.headers({
    etag: doc.etag,
    "cache-control": PUBLIC_CACHE_CONTROL,
    vary: "accept-encoding",
    ...extraHeaders,
  });
  const match = req.headers["if-none-match"];
  if (match && etagMatches(match, doc.etag)) return reply.code(304).send();
  const accepts = req.headers["accept-encoding"] ?? "";
  reply.type(doc.type);
  if (doc.csp) reply.header("content-security-policy", doc.csp);
  if (/\bbr\b/.test(accepts)) return reply.header("content-encoding", "br").send(doc.br);
  if (/\bgzip\b/.test(accepts)) return reply.header("content-encoding", "gzip").send(doc.gzip);
  return reply.send(doc.body);
}
