/**
 * The public page under a stampede: wrk -t2 -c100 (Debian's `wrk`) on loopback against Amends
 * serving the demo workspace with an open incident — `/`, `/api/v2/summary.json` and a 304
 * revalidation — and against a bare node:http server answering the same bytes from memory: the
 * ceiling on this machine. The two are measured in alternating rounds (A B, B A, …), each round
 * against the bytes and ETag Amends serves at that moment, and the median of each round's ratio
 * is printed.
 *
 * Then the same stampede on `/`, quiet and while an update is posted every second (again in
 * alternating rounds): each update must show, on `/` and in the summary, to the very next
 * request after its answer. Last, two `amends serve` processes on one PostgreSQL database: the
 * stampede on the second while updates go through the first, and every update must show on
 * both at once (the second hears of it by NOTIFY).
 *
 *   npx tsx bench/page.ts [--duration 4] [--rounds 5] [--connections 100] [--parts ceiling,updates,postgres]
 *
 * Targets (issue 19): >= 0.9 of the ceiling on all three, >= 0.8 of the quiet throughput while
 * updates are posted. Prints figures; never fails on a target.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { brotliDecompressSync } from "node:zlib";
import { loadDemo } from "../src/demo/load.ts";
import { buildServer } from "../src/http/server.ts";
import { openDatabase } from "../src/storage/database.ts";
import { benchServer, freshBenchDatabase } from "./postgres.ts";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "4" },
    rounds: { type: "string", default: "5" },
    connections: { type: "string", default: "100" },
    parts: { type: "string", default: "ceiling,updates,postgres" },
  },
});
const SECONDS = Number(args.duration);
const ROUNDS = Number(args.rounds);
const PARTS = new Set(args.parts.split(","));

interface Figures {
  rps: number;
  p99ms: number;
}

/** Runs wrk in a child process; asynchronously, since the servers under test live in this one. */
async function wrk(url: string, headers: Record<string, string>, seconds = SECONDS): Promise<Figures> {
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const accept = { "accept-encoding": "br, gzip" };
// Every header Amends sent, but those node:http writes itself.
const OWN = new Set(["date", "connection", "keep-alive", "content-length", "transfer-encoding"]);

/** A GET without decompression: the bytes on the wire and the headers. */
async function rawGet(url: string, extra: Record<string, string> = {}) {
  return new Promise<{ status: number; body: Buffer; headers: Record<string, string> }>((resolve, reject) => {
    request(url, { headers: { ...accept, ...extra } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (!OWN.has(k)) headers[k] = String(v);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers });
      });
    })
      .on("error", reject)
      .end();
  });
}
const text = async (url: string) => brotliDecompressSync((await rawGet(url)).body).toString();

/** Whether `/` and the summary, read right now, both show the update whose body is `marker`. */
async function shows(base: string, incidentId: string, marker: string) {
  const page = (await text(`${base}/`)).includes(marker);
  const summary = JSON.parse(await text(`${base}/api/v2/summary.json`)) as {
    incidents: { id: string; incident_updates: { body: string }[] }[];
  };
  const latest = summary.incidents.find((i) => i.id === incidentId)?.incident_updates[0]?.body;
  return { page, summary: latest === marker };
}

/** The demo workspace with an outage in progress: the page people stampede to. */
async function openOutage(base: string, token: string, now: Date) {
  const opened = await fetch(`${base}/api/v1/incidents`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      title: "Rentals cannot be ended in Milan",
      body: "Leave the car parked; you will not pay for the extra time.",
      components: [{ id: "end-rental-milan", status: "major_outage" }],
      next_update_by: new Date(now.getTime() + 30 * 60_000).toISOString(),
    }),
  });
  if (opened.status !== 201) throw new Error(`could not open the incident: ${await opened.text()}`);
  return ((await opened.json()) as { id: string }).id;
}

const statuses = ["identified", "monitoring", "investigating"] as const;
let posted = 0;
/** Posts the next update through `base`; resolves once it is answered (committed and announced). */
async function postUpdate(base: string, token: string, incidentId: string) {
  const marker = `Update ${++posted} of the bench.`;
  const res = await fetch(`${base}/api/v1/incidents/${incidentId}/updates`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ status: statuses[posted % statuses.length], body: marker, notify: false }),
  });
  if (res.status >= 300) throw new Error(`update failed: ${await res.text()}`);
  return marker;
}

interface Fresh {
  page: number;
  summary: number;
  of: number;
}
const freshness = (f: Fresh | undefined) => `/ ${f?.page}/${f?.of}, summary ${f?.summary}/${f?.of}`;

/**
 * A stampede of `url` while an update is posted through `writer` every second; after each
 * answer, every server in `readers` is asked at once, and must show it on `/` and in the summary.
 */
async function stampedeWithUpdates(
  url: string,
  writer: string,
  readers: string[],
  token: string,
  incidentId: string,
  fresh: Map<string, Fresh>,
  seconds = SECONDS,
) {
  const stampede = wrk(url, accept, seconds);
  let running = true;
  const stop = () => {
    running = false;
  };
  stampede.then(stop, stop);
  await sleep(500);
  while (running) {
    const tick = sleep(1_000);
    const marker = await postUpdate(writer, token, incidentId);
    for (const base of readers) {
      const seen = await shows(base, incidentId, marker);
      const f = fresh.get(base) ?? { page: 0, summary: 0, of: 0 };
      fresh.set(base, { page: f.page + +seen.page, summary: f.summary + +seen.summary, of: f.of + 1 });
    }
    await tick;
  }
  return stampede;
}

/** Quiet and updating rounds, alternating which comes first: the median of each pair's ratio. */
async function quietAndUpdating(url: string, updating: () => Promise<Figures>) {
  const quiet: number[] = [];
  const during: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const still = () => wrk(url, accept);
    const first = await (round % 2 ? updating : still)();
    const second = await (round % 2 ? still : updating)();
    quiet.push((round % 2 ? second : first).rps);
    during.push((round % 2 ? first : second).rps);
  }
  return {
    quiet: median(quiet),
    during: median(during),
    ratio: median(quiet.map((q, i) => during[i]! / q)),
  };
}

// ---- Amends and the ceiling, in one process on PGlite ------------------------------------------

const database = await openDatabase({ memory: true });
const now = new Date();
const demo = await loadDemo(database, now);
const app = await buildServer({ database });
await app.listen({ port: 0, host: "127.0.0.1" });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const incident = await openOutage(base, demo.token, now);

/**
 * The ceiling does the least node:http allows: one document, its headers prepared as a flat
 * array. Before each round it takes the bytes and headers Amends answers at that moment.
 */
let served: { body: Buffer; etag: string; ok: string[]; notModified: string[] } | undefined;
const ceiling = createServer((req, res) => {
  const doc = served!;
  if (req.headers["if-none-match"] === doc.etag) {
    res.writeHead(304, doc.notModified);
    res.end();
    return;
  }
  res.writeHead(200, doc.ok);
  res.end(doc.body);
});
await new Promise<void>((resolve) => ceiling.listen(0, "127.0.0.1", resolve));
const ceilingBase = `http://127.0.0.1:${(ceiling.address() as AddressInfo).port}`;
async function copyToCeiling(path: string) {
  const ok = await rawGet(`${base}${path}`);
  const etag = ok.headers.etag!;
  const notModified = await rawGet(`${base}${path}`, { "if-none-match": etag });
  if (ok.status !== 200 || notModified.status !== 304)
    throw new Error(`${path} answered ${ok.status}, revalidated ${notModified.status}`);
  served = {
    body: ok.body,
    etag,
    ok: [...Object.entries(ok.headers).flat(), "content-length", String(ok.body.length)],
    notModified: Object.entries(notModified.headers).flat(),
  };
  return { etag, bytes: ok.body.length };
}

const cases = [
  { name: "/ (brotli)", path: "/", revalidate: false },
  { name: "/api/v2/summary.json", path: "/api/v2/summary.json", revalidate: false },
  { name: "/ 304 revalidation", path: "/", revalidate: true },
];
const { bytes } = await copyToCeiling("/");
console.log(
  `wrk -t2 -c${args.connections}, ${ROUNDS} alternating rounds of ${SECONDS} s on loopback; page ${bytes} bytes brotli`,
);
if (PARTS.has("ceiling"))
  console.log(
    "case                        amends req/s  p99 ms   ceiling req/s  p99 ms   ratio (median of rounds)",
  );
// Warm both up first (JIT, the first GC after loading the demo), as any long-running server is.
for (const target of [base, ceilingBase]) await wrk(`${target}/`, accept, 2);
for (const c of PARTS.has("ceiling") ? cases : []) {
  const amends: Figures[] = [];
  const bare: Figures[] = [];
  const changed: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Revalidation asks with the ETag Amends answers now; a change of it meanwhile is reported.
    const { etag } = await copyToCeiling(c.path);
    const headers = c.revalidate ? { ...accept, "if-none-match": etag } : accept;
    const runs = [
      () => wrk(`${base}${c.path}`, headers).then((f) => amends.push(f)),
      () => wrk(`${ceilingBase}${c.path}`, headers).then((f) => bare.push(f)),
    ];
    for (const run of round % 2 ? runs.reverse() : runs) await run();
    if ((await rawGet(`${base}${c.path}`)).headers.etag !== etag) changed.push(round + 1);
  }
  const ratio = median(amends.map((a, i) => a.rps / bare[i]!.rps));
  const m = (fs: Figures[], k: keyof Figures) => median(fs.map((f) => f[k]));
  console.log(
    `${c.name.padEnd(28)}${m(amends, "rps").toFixed(0).padStart(12)}${m(amends, "p99ms").toFixed(2).padStart(8)}${m(bare, "rps").toFixed(0).padStart(16)}${m(bare, "p99ms").toFixed(2).padStart(8)}${ratio.toFixed(2).padStart(8)}${changed.length ? `  (ETag changed during round ${changed.join(", ")})` : ""}`,
  );
}

// ---- The stampede while updates are posted --------------------------------------------------------

if (PARTS.has("updates")) {
  const fresh = new Map<string, Fresh>();
  // The update path warmed up too (a first rebuild, render and write compile slowly).
  await stampedeWithUpdates(`${base}/`, base, [base], demo.token, incident, new Map(), 3);
  const updates = await quietAndUpdating(`${base}/`, () =>
    stampedeWithUpdates(`${base}/`, base, [base], demo.token, incident, fresh),
  );
  console.log(
    `stampede on /: ${updates.quiet.toFixed(0)} req/s quiet, ${updates.during.toFixed(0)} req/s with an update every second: ${updates.ratio.toFixed(2)} of quiet`,
  );
  console.log(`fresh to the next request after each update's answer: ${freshness(fresh.get(base))}`);
}
ceiling.close();
await app.close();
await database.close();

// ---- Two processes on PostgreSQL ---------------------------------------------------------------------

/** `amends serve` in a process of its own, as deployed. */
async function serve(url: string): Promise<{ base: string; child: ChildProcess }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "../bin/amends.js"), "serve", "--port", String(port)],
    {
      env: {
        ...process.env,
        DATABASE_URL: url,
        HOST: "127.0.0.1",
        AMENDS_NOTIFY: "off",
        AMENDS_MONITORS: "off",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      output += d;
      if (output.includes("Press Ctrl+C")) resolve();
    });
    child.stderr!.on("data", (d) => (output += d));
    child.on("exit", (code) => reject(new Error(`amends serve exited (${code}): ${output}`)));
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

if (PARTS.has("postgres")) {
  const server = await benchServer();
  const db = await freshBenchDatabase(server.url, "bench_page");
  const children: ChildProcess[] = [];
  try {
    const setup = await openDatabase({ url: db.url });
    const pgDemo = await loadDemo(setup, new Date());
    await setup.close();
    const [a, b] = [await serve(db.url), await serve(db.url)];
    children.push(a.child, b.child);
    const pgIncident = await openOutage(a.base, pgDemo.token, new Date());
    await stampedeWithUpdates(`${b.base}/`, a.base, [b.base], pgDemo.token, pgIncident, new Map(), 3);
    const pgFresh = new Map<string, Fresh>();
    const pg = await quietAndUpdating(`${b.base}/`, () =>
      stampedeWithUpdates(`${b.base}/`, a.base, [b.base, a.base], pgDemo.token, pgIncident, pgFresh),
    );
    console.log(
      `PostgreSQL, two processes: stampede on the second, ${pg.quiet.toFixed(0)} req/s quiet, ${pg.during.toFixed(0)} req/s with an update through the first every second: ${pg.ratio.toFixed(2)} of quiet`,
    );
    console.log(
      `fresh to the next request after each update's answer: on the second (told by NOTIFY) ${freshness(pgFresh.get(b.base))}; on the first ${freshness(pgFresh.get(a.base))}`,
    );
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await sleep(500);
    await db.drop().catch(() => {});
    await server.stop();
  }
}
