/**
 * The public page under a stampede: wrk -t2 -c100 (Debian's `wrk`) on loopback against Amends
 * serving the demo workspace with an open incident — `/`, `/api/v2/summary.json` and a 304
 * revalidation — and, in the same run, against a bare node:http server answering the same
 * bytes from memory: the ceiling on this machine. Prints req/s, p99 and the ratio to the
 * ceiling (after a 2 s warm-up of each), then posts 30 updates during a stampede and checks that
 * each is visible to the very next request after it commits.
 *
 *   npx tsx bench/page.ts [--duration 10] [--connections 100]
 *
 * Targets (issue 6): >= 0.9 of the ceiling, p99 <= 20 ms. Prints figures; never fails on a target.
 */
import { execFile } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs, promisify } from "node:util";
import { brotliDecompressSync } from "node:zlib";
import { loadDemo } from "../src/demo/load.ts";
import { buildServer } from "../src/http/server.ts";
import { openDatabase } from "../src/storage/database.ts";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "100" },
  },
});

interface Figures {
  rps: number;
  p99ms: number;
}

/** Runs wrk in a child process; asynchronously, since the servers under test live in this one. */
async function wrk(
  url: string,
  headers: Record<string, string>,
  seconds = Number(args.duration),
): Promise<Figures> {
  const { stdout: out } = await promisify(execFile)(
    "wrk",
    [
      "-t2",
      `-c${args.connections}`,
      `-d${seconds}s`,
      "--latency",
      ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
      url,
    ],
    { encoding: "utf8" },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1000 }[p99?.[2] as "us" | "ms" | "s"] ?? Number.NaN;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1];
  if (errors) console.warn(`  (${errors} non-2xx/3xx responses from ${url})`);
  return { rps, p99ms: Number(p99?.[1]) * unit };
}

const listen = async (server: Server | { listen: Server["listen"] }) =>
  new Promise<number>((resolve) => {
    const s = server as Server;
    s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port));
  });

const database = await openDatabase({ memory: true });
const now = new Date();
const demo = await loadDemo(database, now);
const app = await buildServer({ database });
await app.listen({ port: 0, host: "127.0.0.1" });
const port = (app.server.address() as AddressInfo).port;
const base = `http://127.0.0.1:${port}`;
const auth = { authorization: `Bearer ${demo.token}`, "content-type": "application/json" };

// An outage in progress: the page people stampede to.
const opened = await fetch(`${base}/api/v1/incidents`, {
  method: "POST",
  headers: auth,
  body: JSON.stringify({
    title: "Rentals cannot be ended in Milan",
    body: "Leave the car parked; you will not pay for the extra time.",
    components: [{ id: "end-rental-milan", status: "major_outage" }],
    next_update_by: new Date(now.getTime() + 30 * 60_000).toISOString(),
  }),
});
if (opened.status !== 201) throw new Error(`could not open the incident: ${await opened.text()}`);
const incident = (await opened.json()) as { id: string };

// The exact bytes Amends serves (brotli, as browsers ask), to serve from the ceiling server.
const accept = { "accept-encoding": "br, gzip" };
const docs = new Map<string, { body: Buffer; headers: Record<string, string> }>();
for (const path of ["/", "/api/v2/summary.json"]) {
  const raw = await rawGet(`${base}${path}`);
  if (raw.status !== 200) throw new Error(`${path} answered ${raw.status}`);
  docs.set(path, { body: raw.body, headers: raw.headers });
}
const etag = docs.get("/")!.headers.etag!;
const notModified = await rawGet(`${base}/`, { "if-none-match": etag });
if (notModified.status !== 304) throw new Error(`revalidating / answered ${notModified.status}`);

/** A GET without decompression: the bytes on the wire and the headers. */
async function rawGet(url: string, extra: Record<string, string> = {}) {
  return new Promise<{ status: number; body: Buffer; headers: Record<string, string> }>((resolve, reject) => {
    request(url, { headers: { ...accept, ...extra } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        // Every header Amends sent, but those node:http writes itself.
        const own = new Set(["date", "connection", "keep-alive", "content-length", "transfer-encoding"]);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (!own.has(k)) headers[k] = String(v);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers });
      });
    })
      .on("error", reject)
      .end();
  });
}

// The ceiling does the least node:http allows: headers prepared once, as a flat array.
const prepared = new Map(
  [...docs].map(([path, doc]) => [
    path,
    {
      body: doc.body,
      etag: doc.headers.etag!,
      ok: [...Object.entries(doc.headers).flat(), "content-length", String(doc.body.length)],
      notModified: Object.entries(notModified.headers).flat(),
    },
  ]),
);
const ceiling = createServer((req, res) => {
  const doc = prepared.get(req.url ?? "/") ?? prepared.get("/")!;
  if (req.headers["if-none-match"] === doc.etag) {
    res.writeHead(304, doc.notModified);
    res.end();
    return;
  }
  res.writeHead(200, doc.ok);
  res.end(doc.body);
});
const ceilingPort = await listen(ceiling);

const cases: [string, string, Record<string, string>][] = [
  ["/ (brotli)", "/", accept],
  ["/api/v2/summary.json", "/api/v2/summary.json", accept],
  ["/ 304 revalidation", "/", { ...accept, "if-none-match": etag }],
];
console.log(
  `wrk -t2 -c${args.connections} -d${args.duration}s on loopback; page ${docs.get("/")!.body.length} bytes brotli`,
);
console.log("case                        amends req/s  p99 ms   ceiling req/s  p99 ms   ratio");
// Warm both up first (JIT, the first GC after loading the demo), as any long-running server is.
for (const target of [base, `http://127.0.0.1:${ceilingPort}`]) await wrk(`${target}/`, accept, 2);
for (const [name, path, headers] of cases) {
  const a = await wrk(`${base}${path}`, headers);
  const c = await wrk(`http://127.0.0.1:${ceilingPort}${path}`, headers);
  console.log(
    `${name.padEnd(28)}${a.rps.toFixed(0).padStart(12)}${a.p99ms.toFixed(2).padStart(8)}${c.rps.toFixed(0).padStart(16)}${c.p99ms.toFixed(2).padStart(8)}${(a.rps / c.rps).toFixed(2).padStart(8)}`,
  );
}

// Fresh after commit, under load: while wrk stampedes summary.json, post updates; each one's
// answer returns once it is committed, and the very next read (with the stampede's own headers,
// so a stale copy would be found) must show it.
const statuses = ["identified", "monitoring", "investigating"] as const;
const stampede = wrk(`${base}/api/v2/summary.json`, accept, 5);
let fresh = 0;
const rounds = 30;
for (let round = 0; round < rounds; round++) {
  const status = statuses[round % statuses.length]!;
  const update = await fetch(`${base}/api/v1/incidents/${incident.id}/updates`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ status, body: `Round ${round}.` }),
  });
  if (update.status >= 300) throw new Error(`update failed: ${await update.text()}`);
  const raw = await rawGet(`${base}/api/v2/summary.json`);
  const summary = JSON.parse(brotliDecompressSync(raw.body).toString()) as {
    incidents: { id: string; status: string }[];
  };
  if (summary.incidents.find((i) => i.id === incident.id)?.status === status) fresh++;
}
const during = await stampede;
console.log(
  `change visible to the next request after commit: ${fresh}/${rounds} updates (stampede meanwhile: ${during.rps.toFixed(0)} req/s, p99 ${during.p99ms.toFixed(2)} ms)`,
);

ceiling.close();
await app.close();
await database.close();
