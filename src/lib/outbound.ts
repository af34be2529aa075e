/**
 * The one way out to an address that came from outside the code: subscribers' webhooks, chat
 * and push endpoints, monitor targets, provider URLs. Unless the caller may reach private
 * networks (a URL the operator configured; monitors when the operator allows it), only public
 * unicast addresses are dialled:
 *  - a literal address (which node dials without a lookup) is checked before anything starts,
 *    in whatever spelling: the WHATWG URL parser turns 2130706433, 0x7f000001, 0177.0.0.1 and
 *    127.1 into 127.0.0.1, and IPv4-mapped IPv6 is judged as the IPv4 address it carries;
 *  - a name is resolved by our own lookup, which hands the socket only the addresses it has
 *    checked, so the check applies to the address actually connected to (a rebinding DNS
 *    server gets no second question to answer differently);
 *  - `localhost` and `*.localhost` are refused by name (RFC 6761), whatever the resolver says.
 * Redirects are never followed. Failures are told in our words, never in the remote's.
 */
import dns from "node:dns";
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import net from "node:net";
import ipaddr from "ipaddr.js";

/** What a refused target is told, whatever the reason (the range is not worth revealing). */
export const NOT_PUBLIC = "refused: not a public address";

/** A request that did not get a reply; `refused` when the guard stopped it before connecting. */
export class OutboundError extends Error {
  constructor(
    message: string,
    readonly refused = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "OutboundError";
  }
}

/** Global unicast IPv6 (2000::/3): everything else is local, special or embeds an IPv4 address. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parse("2000::");

/**
 * The special range an IP address is in (loopback, private, linkLocal, carrierGradeNat,
 * uniqueLocal, multicast, unspecified, broadcast, reserved…), or undefined when it is a
 * public unicast address.
 */
export function specialRange(address: string): string | undefined {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address.replace(/^\[(.*)\]$/, "$1"));
  } catch {
    return "invalid";
  }
  if (ip.kind() === "ipv6") {
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) ip = v6.toIPv4Address();
    else if (!v6.match(GLOBAL_UNICAST_V6, 3)) return v6.range() === "unicast" ? "reserved" : v6.range();
  }
  const range = ip.range();
  return range === "unicast" ? undefined : range;
}

/**
 * A host as it will be dialled: numeric spellings of IPv4 become dotted quads (as in a URL),
 * IPv6 loses its brackets, a name loses its trailing dot and its case.
 */
export function canonicalHost(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (net.isIPv6(bare)) return ipaddr.IPv6.parse(bare).toString();
  let name = bare.toLowerCase();
  try {
    name = new URL(`http://${bare}/`).hostname;
  } catch {
    // not a valid host name at all: dialling it fails on its own
  }
  return name.replace(/\.+$/, "");
}

/** Why `host` is refused before any lookup (a non-public literal, a localhost name), or undefined. */
export function refusedHost(host: string): string | undefined {
  const h = canonicalHost(host);
  if (net.isIP(h)) return specialRange(h);
  if (h === "localhost" || h.endsWith(".localhost")) return "loopback";
  return undefined;
}

/** dns.lookup that hands over only public addresses, so the socket dials one that was checked. */
export const publicLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 0);
    const usable = addresses.filter((a) => !specialRange(a.address));
    if (usable.length === 0) return callback(new OutboundError(NOT_PUBLIC, true), "", 0);
    if (options.all) return callback(null, usable);
    callback(null, usable[0]!.address, usable[0]!.family);
  });
};

/**
 * Connection options for `host` (node:net, node:tls, node:http): the host to dial and, unless
 * private targets are allowed, the checking lookup. Throws when the host is refused outright.
 */
export function dialOptions(
  host: string,
  allowPrivate: boolean,
): { host: string; lookup?: net.LookupFunction } {
  // Remembered per host: judging a name takes a few URL parses, and a fan-out posts thousands
  // of times to the same hosts. Only the verdict on the spelling is kept; the addresses a name
  // resolves to are still checked by `publicLookup` at every connection.
  const key = `${allowPrivate ? "p" : "g"}\u0000${host}`;
  let dial = dials.get(key);
  if (!dial) {
    const canonical = canonicalHost(host);
    dial = allowPrivate
      ? Object.freeze({ host: canonical })
      : refusedHost(canonical)
        ? "refused"
        : Object.freeze({ host: canonical, lookup: publicLookup });
    if (dials.size >= 10_000) dials.clear();
    dials.set(key, dial);
  }
  if (dial === "refused") throw new OutboundError(NOT_PUBLIC, true);
  return dial;
}
const dials = new Map<string, { host: string; lookup?: net.LookupFunction } | "refused">();

/**
 * Refuses a non-public target when it is entered, so the caller hears of it at once (a 400 on
 * the field); the dial checks again, in case the name points elsewhere later. A name that does
 * not resolve passes here: it cannot be dialled either.
 */
export async function isPublicTarget(host: string): Promise<boolean> {
  if (refusedHost(host)) return false;
  const canonical = canonicalHost(host);
  if (net.isIP(canonical)) return true;
  const addresses = await new Promise<dns.LookupAddress[]>((resolve) =>
    dns.lookup(canonical, { all: true }, (err, found) => resolve(err ? [] : found)),
  );
  return addresses.length === 0 || addresses.some((a) => !specialRange(a.address));
}

/** A failure to connect or to read, in our words: what went wrong, with node's code for operators. */
export function failureText(err: unknown): string {
  if (err instanceof OutboundError) return err.message;
  const code = (err as { code?: unknown })?.code;
  // Without a code it is one of ours (a bad target, a deadline): its message is in our words.
  if (typeof code !== "string") return (err as Error)?.message || "connection failed";
  const phrase =
    {
      ECONNREFUSED: "connection refused",
      ECONNRESET: "connection reset",
      EPIPE: "connection reset",
      ENOTFOUND: "host name not found",
      ENODATA: "no such record",
      ESERVFAIL: "name server failed",
      EREFUSED: "name server refused",
      ETIMEOUT: "timed out",
      EAI_AGAIN: "host name lookup failed",
      EHOSTUNREACH: "host unreachable",
      ENETUNREACH: "network unreachable",
      ETIMEDOUT: "timed out",
      EADDRNOTAVAIL: "source address not available",
    }[code] ??
    (code.startsWith("HPE_")
      ? "not an HTTP reply"
      : /CERT|SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)/.test(code)
        ? "certificate not accepted"
        : /SSL|TLS/.test(code)
          ? "TLS handshake failed"
          : "connection failed");
  return `${phrase} (${code})`;
}

/**
 * Keep-alive agents, apart for guarded and operator-trusted requests: a pooled socket is reused
 * without a new lookup, so one opened for an operator's private host must never serve a
 * guarded request to the same name.
 */
const AGENTS = {
  guarded: {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 256 }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 256 }),
  },
  trusted: {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 256 }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 256 }),
  },
};

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** the whole exchange, from lookup to the last byte */
  timeoutMs: number;
  /** for URLs the operator set (provider APIs), or monitors where the operator allows it */
  allowPrivate?: boolean;
  /** keep at most this much of the reply body (the rest is read and dropped); default 1 MiB */
  maxBytes?: number;
  /** connect from this local address (a probe on a host with several) */
  localAddress?: string;
}

export interface OutboundReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP(S) request through the guard. Rejects with an OutboundError in our words. */
export function send(url: string | URL, req: OutboundRequest): Promise<OutboundReply> {
  const target = typeof url === "string" ? new URL(url) : url;
  const protocol = target.protocol;
  if (protocol !== "http:" && protocol !== "https:")
    return Promise.reject(new OutboundError(`${protocol} is not HTTP`));
  const allowPrivate = req.allowPrivate ?? false;
  let dial: ReturnType<typeof dialOptions>;
  try {
    dial = dialOptions(target.hostname, allowPrivate);
  } catch (err) {
    return Promise.reject(err);
  }
  const maxBytes = req.maxBytes ?? 1024 * 1024;
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(new OutboundError(failureText(err), false, { cause: err }));
    const call = (protocol === "https:" ? https : http).request(
      target,
      {
        method: req.method ?? "GET",
        headers: req.headers,
        ...(dial.lookup && { lookup: dial.lookup }),
        // A source address needs its own sockets: pooled ones are bound to another.
        agent: req.localAddress ? false : AGENTS[allowPrivate ? "trusted" : "guarded"][protocol],
        ...(req.localAddress && { localAddress: req.localAddress }),
      },
      (reply) => {
        const chunks: Buffer[] = [];
        let size = 0;
        reply.on("data", (c: Buffer) => {
          if (size < maxBytes) chunks.push(c.subarray(0, maxBytes - size));
          size += c.length;
        });
        reply.on("error", fail);
        reply.on("end", () =>
          resolve({ status: reply.statusCode ?? 0, headers: reply.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    const timer = setTimeout(
      () => call.destroy(new OutboundError(`timed out after ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    call.on("close", () => clearTimeout(timer));
    call.on("error", (err) => (err instanceof OutboundError ? reject(err) : fail(err)));
    call.end(req.body);
  });
}
