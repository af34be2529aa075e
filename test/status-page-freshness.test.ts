/**
 * Fresh on every server: three `amends serve` processes on one PostgreSQL (a private cluster,
 * since this test stops and starts it), readers hammering every public document on all three,
 * and 20 writes through the API on rotating servers. Every read that starts after a write's
 * answer arrived must show that write. Then PostgreSQL restarts: every server must LISTEN again,
 * and 20 more writes must be just as fresh.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createComponent } from "../src/components/store.ts";
import { createIncident } from "../src/incidents/store.ts";
import { openDatabase } from "../src/storage/database.ts";
import { createToken } from "../src/tokens/store.ts";
import { createWorkspace } from "../src/workspaces/store.ts";
import { type Cluster, freePort, startCluster } from "./support/postgres-cluster.ts";
import { until } from "./support/until.ts";

const BIN = join(import.meta.dirname, "../bin/amends.js");
const INCIDENT = "INC-FRESH";
/** Write k sets the component to STATUSES[k % 4]: the status documents tell writes apart by it. */
const STATUSES = ["degraded_performance", "partial_outage", "major_outage", "operational"] as const;
const INDICATOR = {
  degraded_performance: "minor",
  partial_outage: "major",
  major_outage: "critical",
  operational: "none",
};
const BADGE = {
  degraded_performance: "Minor Service Outage",
  partial_outage: "Partial System Outage",
  major_outage: "Major Service Outage",
  operational: "All Systems Operational",
};
const marker = (k: number) => `Check ${k} done`;

/** What each document says about the writes: the newest update it shows, or the component status. */
type Seen = { kind: "update"; k: number } | { kind: "status"; status: string };
const latestUpdate = (text: string): Seen => ({
  kind: "update",
  k: Math.max(-1, ...[...text.matchAll(/Check (\d+) done/g)].map((m) => Number(m[1]))),
});
const DOCUMENTS: Record<string, (text: string) => Seen> = {
  "/": latestUpdate,
  [`/incidents/${INCIDENT}`]: latestUpdate,
  "/api/v2/summary.json": latestUpdate,
  "/api/v2/incidents.json": latestUpdate,
  "/api/v2/incidents/unresolved.json": latestUpdate,
  "/history.atom": latestUpdate,
  "/history.rss": latestUpdate,
  "/api/v2/status.json": (text) => {
    const indicator = JSON.parse(text).status.indicator;
    return { kind: "status", status: STATUSES.find((s) => INDICATOR[s] === indicator) ?? indicator };
  },
  "/api/v2/components.json": (text) => ({ kind: "status", status: JSON.parse(text).components[0].status }),
  "/badge.svg": (text) => {
    const title = /<title>[^<]*: ([^<]*)<\/title>/.exec(text)?.[1] ?? "";
    return { kind: "status", status: STATUSES.find((s) => BADGE[s] === title) ?? title };
  },
};

interface Read {
  server: number;
  path: string;
  start: number;
  end: number;
  seen?: Seen;
  error?: string;
}

interface Server {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

function startServer(url: string, port: number): Promise<Server> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", String(port)], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      HOST: "127.0.0.1",
      AMENDS_NOTIFY: "off",
      AMENDS_MONITORS: "off",
      AMENDS_DB_POOL: "5",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d;
      if (output.includes("Press Ctrl+C")) resolve({ port, child, exited });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d) => (output += d));
    child.on("exit", (code) => reject(new Error(`server exited (${code}): ${output}`)));
  });
}

describe("fresh on every server", () => {
  let cluster: Cluster;
  let url: string;
  let token: string;
  const servers: Server[] = [];
  /** when write k was sent (first attempt) and when its answer arrived, in performance.now() */
  const began: number[] = [];
  const answered: number[] = [];
  const reads: Read[] = [];
  let reading = false;
  let readers: Promise<void>[] = [];

  const base = (i: number) => `http://127.0.0.1:${servers[i]!.port}`;
  const listenSessions = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const rows = await client.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where datname = 'amends' and query ilike 'listen %'",
      );
      return rows.rows[0]!.n;
    } finally {
      await client.end();
    }
  };
  const health = async (i: number) =>
    (await fetch(`${base(i)}/healthz`)).json() as Promise<{ status: string; listen: Record<string, string> }>;
  /** For polling: a failed check (the database is still coming back) is a "not yet". */
  const quietly = (check: () => Promise<boolean>) => () => check().catch(() => false);

  /** A reader: one request at a time, cycling through every document of one server. */
  const reader = async (server: number, offset: number, encoding: string) => {
    const paths = Object.keys(DOCUMENTS);
    for (let i = offset; reading; i++) {
      const path = paths[i % paths.length]!;
      const read: Read = { server, path, start: performance.now(), end: 0 };
      try {
        const res = await fetch(`${base(server)}${path}`, { headers: { "accept-encoding": encoding } });
        const text = await res.text();
        if (res.status !== 200) read.error = `${res.status} ${text.slice(0, 200)}`;
        else read.seen = DOCUMENTS[path]!(text);
      } catch (err) {
        read.error = String(err);
      }
      read.end = performance.now();
      reads.push(read);
    }
  };
  const startReading = () => {
    reading = true;
    readers = servers.flatMap((_, s) =>
      [0, 1, 2].map((r) => reader(s, r * 3, r % 2 ? "br, gzip" : "identity")),
    );
  };
  const stopReading = async () => {
    reading = false;
    await Promise.all(readers);
  };

  /** Write k through server k % 3; retried while the database is still coming back. */
  const write = async (k: number) => {
    began[k] = performance.now();
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${base(k % 3)}/api/v1/incidents/${INCIDENT}/updates`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          body: marker(k),
          status: "identified",
          components: [{ id: "rentals", status: STATUSES[k % 4] }],
          notify: false,
        }),
      }).catch((err) => ({ status: 0, text: async () => String(err) }));
      if (res.status === 201) break;
      if (attempt >= 20) throw new Error(`write ${k}: ${res.status} ${await res.text()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    answered[k] = performance.now();
  };

  /** Reads that started after a write was answered yet show an older state. */
  const staleReads = (from: number) =>
    reads
      .filter((r) => r.seen && r.start >= answered[from]!)
      .filter((r) => {
        // The newest write answered before the read began, and the newest begun before it ended.
        const low = answered.findLastIndex((t) => t !== undefined && t <= r.start);
        const high = began.findLastIndex((t) => t !== undefined && t <= r.end);
        const seen = r.seen!;
        if (seen.kind === "update") return seen.k < low || seen.k > high;
        for (let k = low; k <= high; k++) if (STATUSES[k % 4] === seen.status) return false;
        return true;
      })
      .map((r) => ({ ...r, low: answered.findLastIndex((t) => t !== undefined && t <= r.start) }));

  beforeAll(async () => {
    const started = await startCluster();
    if (!started) throw new Error("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)");
    cluster = started;
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query("create database amends");
    await admin.end();
    url = cluster.url.replace(/\/postgres$/, "/amends");
    const database = await openDatabase({ url });
    try {
      const ws = (await createWorkspace(database.db, { slug: "fleet", name: "The Fleet" })).id;
      token = (await createToken(database.db, { workspaceId: ws, name: "writer" })).secret;
      await createComponent(database.db, ws, { id: "rentals", name: "Rentals" }, new Date());
      await createIncident(
        database.db,
        ws,
        {
          id: INCIDENT,
          title: "Rentals cannot be ended",
          impact: "none",
          update: { body: marker(0), components: [{ componentId: "rentals", status: STATUSES[0] }] },
        },
        new Date(),
        false,
      );
    } finally {
      await database.close();
    }
    began[0] = answered[0] = 0;
    const ports = [await freePort(), await freePort(), await freePort()];
    servers.push(...(await Promise.all(ports.map((port) => startServer(url, port)))));
  }, 240_000);

  afterAll(async () => {
    reading = false;
    await Promise.all(readers);
    for (const s of servers) s.child.kill("SIGTERM");
    await Promise.all(
      servers.map((s) =>
        Promise.race([
          s.exited,
          new Promise((r) => setTimeout(r, 5_000)).then(() => s.child.kill("SIGKILL")),
        ]),
      ),
    );
    cluster?.destroy();
  }, 60_000);

  it("shows every write to every reader that starts after its answer, before and after a database restart", async () => {
    const t0 = performance.now();
    await until(
      "every server to LISTEN",
      quietly(async () => (await listenSessions()) === 3),
    );
    startReading();
    for (let k = 1; k <= 20; k++) {
      await write(k);
      await new Promise((r) => setTimeout(r, 250));
    }
    await stopReading();
    const before = reads.length;
    expect(staleReads(1)).toEqual([]);
    expect(reads.filter((r) => r.error)).toEqual([]);

    const t1 = performance.now();
    // PostgreSQL goes away for a few seconds; the servers say so, then LISTEN again on their own.
    cluster.stop();
    await until(
      "every server to report its LISTEN down",
      quietly(async () =>
        (await Promise.all([0, 1, 2].map(health))).every((h) =>
          /^down since /.test(h.listen.amends_changes!),
        ),
      ),
    );
    const metrics = await (await fetch(`${base(0)}/metrics`)).text();
    expect(metrics).toMatch(/amends_listen_connected\{channel="amends_changes"\} 0/);
    await new Promise((r) => setTimeout(r, 4_000));
    cluster.start();
    await until(
      "every server to LISTEN again",
      quietly(async () => (await listenSessions()) === 3),
      20_000,
    );
    await until(
      "every server to report LISTEN connected",
      quietly(async () => (await Promise.all([0, 1, 2].map(health))).every((h) => h.status === "ok")),
    );

    const t2 = performance.now();
    startReading();
    for (let k = 21; k <= 40; k++) {
      await write(k);
      await new Promise((r) => setTimeout(r, 250));
    }
    await stopReading();
    expect(staleReads(21)).toEqual([]);
    expect(reads.filter((r) => r.start >= answered[21]! && r.error)).toEqual([]);
    console.log(
      `freshness: ${reads.length} reads (${before} before the restart) of ${Object.keys(DOCUMENTS).length} documents on 3 servers, 40 writes, 0 stale; ` +
        `writes 1-20 took ${Math.round(t1 - t0)} ms, the restart until every LISTEN was back ${Math.round(t2 - t1)} ms, ` +
        `writes 21-40 ${Math.round(performance.now() - t2)} ms`,
    );
  }, 240_000);
});
