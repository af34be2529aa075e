/**
 * The stampede's lane: public documents answered straight from node:http, before Fastify
 * routes, hooks or parses anything. Fastify serves a document once (its routes decide which
 * page, language and encoding, and its hooks add every header); the exact bytes and headers
 * it sent are kept here under everything the answer depended on, and repeated for identical
 * requests until the page changes (cleared with the snapshot). Once a second one of them goes
 * through Fastify again, so the snapshot's own age check still runs. Private pages, requests
 * with cookies or tokens, and writes never enter.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { etagMatches } from "./snapshot.ts";

interface Entry {
  etag: string;
  /** name, value, name, value… as node's writeHead takes them */
  headers: string[];
  /** what a 304 repeats (RFC 9110 §15.4.5): validators and caching headers */
  notModifiedHeaders: string[];
  body: Buffer;
  expiresAt: number;
}

const TTL_MS = 1_000;
const MAX_ENTRIES = 2_000;
const NOT_MODIFIED_KEEP = new Set(["etag", "cache-control", "vary", "content-language"]);
/** The lane's generation when a request arrived: an answer rendered before a change is not kept after it. */
const ARRIVED = Symbol("fast-lane generation");
type Stamped = IncomingMessage & { [ARRIVED]?: number };

/**
 * Everything a public document's answer may depend on: host (which page), path and query,
 * language, encoding, proxy headers. Taken verbatim: two spellings of one request are two
 * entries, never a wrong answer.
 */
function keyOf(req: IncomingMessage): string | undefined {
  const h = req.headers;
  if (req.method !== "GET" || h.cookie !== undefined || h.authorization !== undefined) return undefined;
  return `${h.host}\n${req.url}\n${h["accept-language"]}\n${h["accept-encoding"]}\n${h["x-forwarded-proto"]}\n${h["x-forwarded-host"]}`;
}

export class FastLane {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  /** requests answered here, for /metrics */
  hits = 0;

  /** Answers the request from the lane if it can; false hands it to Fastify. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const entry = this.entries.size === 0 ? undefined : this.entries.get(keyOf(req) ?? "");
    const now = Date.now();
    if (!entry || entry.expiresAt <= now) {
      // To Fastify. Of an entry a second old, this one request only (Fastify refreshes an old
      // snapshot and, if the document changed, replaces the entry); the others keep being
      // answered here meanwhile. Only what goes to Fastify is stamped: the lane's own answers
      // stay as cheap as the bare server's.
      if (entry) entry.expiresAt = now + TTL_MS;
      (req as Stamped)[ARRIVED] = this.generation;
      return false;
    }
    this.hits++;
    const ifNoneMatch = req.headers["if-none-match"];
    if (ifNoneMatch && etagMatches(ifNoneMatch, entry.etag)) {
      res.writeHead(304, entry.notModifiedHeaders);
      res.end();
    } else {
      res.writeHead(200, entry.headers);
      res.end(entry.body);
    }
    return true;
  }

  /**
   * Keeps a 200 answer Fastify is sending, when it is a public document (an ETag and public
   * Cache-Control: what sendDoc sets) and nothing changed since the request arrived.
   */
  remember(req: IncomingMessage, headers: Record<string, unknown>, body: Buffer): void {
    const key = keyOf(req);
    const etag = headers.etag;
    if (key === undefined || typeof etag !== "string" || headers["set-cookie"] !== undefined) return;
    if ((req as Stamped)[ARRIVED] !== this.generation) return;
    if (!String(headers["cache-control"] ?? "").startsWith("public")) return;
    const flat: string[] = [];
    const notModified: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || name === "content-length") continue;
      flat.push(name, String(value));
      if (NOT_MODIFIED_KEEP.has(name)) notModified.push(name, String(value));
    }
    flat.push("content-length", String(body.length));
    // Bounded: a flood of distinct query strings evicts the oldest entries, never grows memory.
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, {
      etag,
      headers: flat,
      notModifiedHeaders: notModified,
      body,
      expiresAt: Date.now() + TTL_MS,
    });
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
