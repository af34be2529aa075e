/**
 * The public page under a stampede: wrk -t2 -c100 (Debian's `wrk`) on loopback against Amends
 * serving the demo workspace with an open incident — `/`, `/api/v2/summary.json` and a 304
 * revalidation — and, in the same run, against a bare node:http server answering the same
 * bytes from memory: the ceiling on this machine. Prints req/s, p99 and the ratio to the
 * ceiling, then checks that a change is visible to the very next request after it commits.
 *
 *   npx tsx bench/page.ts [--duration 5] [--connections 100]
 *
 * Targets (issue 6): >= 0.9 of the ceiling, p99 <= 20 ms. Prints figures; never fails on a target.
 */
import { execFile } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs, promisify } from "node:util";
import { loadDemo } from "../src/demo/load.ts";
import { buildServer } from "../src/http/server.ts";
import { openDatabase } from "../src/storage/database.ts";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "100" },
  },
});

interface Figures {
  rps: number;
  p99ms: number;
}

/** Runs wrk in a child process; asynchronously, since the servers under test live in this one. */
async function wrk(url: string, headers: Record<string, string>): Promise<Figures> {
  const { stdout: out } = await promisify(execFile)(
    "wrk",
    [
      "-t2",
      `-c${args.connections}`,
      `-d${args.duration}s`,
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

/** A GET without decompression: the bytes on the wire and the headers that matter. */
async function rawGet(url: string) {
  return new Promise<{ status: number; body: Buffer; headers: Record<string, string> }>((resolve, reject) => {
    request(url, { headers: accept }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const keep = [
          "content-type",
          "content-encoding",
          "etag",
          "cache-control",
          "vary",
          "content-language",
        ];
        const headers: Record<string, string> = {};
        for (const k of keep) if (res.headers[k]) headers[k] = String(res.headers[k]);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers });
      });
    })
      .on("error", reject)
      .end();
  });
}

const ceiling = createServer((req, res) => {
  const doc = docs.get(req.url ?? "/") ?? docs.get("/")!;
  if (req.headers["if-none-match"] === doc.headers.etag) {
    res.writeHead(304, { etag: doc.headers.etag!, "cache-control": doc.headers["cache-control"]! });
    res.end();
    return;
  }
  res.writeHead(200, { ...doc.headers, "content-length": doc.body.length });
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
for (const [name, path, headers] of cases) {
  const a = await wrk(`${base}${path}`, headers);
  const c = await wrk(`http://127.0.0.1:${ceilingPort}${path}`, headers);
  console.log(
    `${name.padEnd(28)}${a.rps.toFixed(0).padStart(12)}${a.p99ms.toFixed(2).padStart(8)}${c.rps.toFixed(0).padStart(16)}${c.p99ms.toFixed(2).padStart(8)}${(a.rps / c.rps).toFixed(2).padStart(8)}`,
  );
}

// Fresh after commit: the update's answer returns once it is committed; the next read shows it.
const update = await fetch(`${base}/api/v1/incidents/${incident.id}/updates`, {
  method: "POST",
  headers: auth,
  body: JSON.stringify({ status: "identified", body: "A rollback is under way." }),
});
if (update.status >= 300) throw new Error(`update failed: ${await update.text()}`);
const summary = (await (await fetch(`${base}/api/v2/summary.json`)).json()) as {
  incidents: { id: string; status: string }[];
};
const seen = summary.incidents.find((i) => i.id === incident.id)?.status;
console.log(
  `change visible to the next request after commit: ${seen === "identified" ? "yes" : `NO (${seen})`}`,
);

ceiling.close();
await app.close();
await database.close();
