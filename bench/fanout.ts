/**
 * Fan-out at scale: N confirmed subscribers on PostgreSQL, 1, 2 and 4 worker processes
 * (`amends worker`'s notifier) in turn, a loopback receiver answering like a webhook endpoint
 * and like Postmark's batch API. For each channel (webhooks; e-mail through Postmark batches,
 * where a message counts when the provider has taken it) and worker count it prints the time
 * from publishing an incident to the first message (p50/p99 over repeated small publishes, and
 * for the big one) and to the last, messages per second, the bare node:http ceiling measured
 * with as many processes right after, and the CPU each message cost the workers, PostgreSQL's
 * backends and the receiver. Targets (issue 19): first ≤ 1 s p99, last ≤ 60 s for 1 M, ≥ 0.8
 * of the ceiling.
 *
 *   npx tsx bench/fanout.ts [--recipients 1000000] [--workers 1,2,4] [--probes 20] [--channels webhook,postmark]
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createComponent } from "../src/components/store.ts";
import { createIncident } from "../src/incidents/store.ts";
import { openDatabase } from "../src/storage/database.ts";
import { createWorkspace } from "../src/workspaces/store.ts";
import { benchServer, freshBenchDatabase } from "./postgres.ts";

const { values: args } = parseArgs({
  options: {
    recipients: { type: "string", default: "1000000" },
    workers: { type: "string", default: "1,2,4" },
    probes: { type: "string", default: "20" },
    channels: { type: "string", default: "webhook,postmark" },
  },
});
type BenchChannel = "webhook" | "postmark";
const CHANNELS = args.channels.split(",") as BenchChannel[];
if (!CHANNELS.every((c) => c === "webhook" || c === "postmark"))
  throw new Error("--channels is a list of webhook and postmark");
const N = Number(args.recipients.replaceAll("_", ""));
const WORKERS = args.workers.split(",").map(Number);
const PROBES = Number(args.probes);
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// The receiver: first and last arrival per incident (from the webhook's payload, or the
// e-mails' subject), and a count.
const seen = new Map<string, { first: number; last: number; n: number }>();
const arrived = (incident: string, n: number) => {
  const now = performance.now();
  const s = seen.get(incident) ?? { first: now, last: now, n: 0 };
  s.last = now;
  s.n += n;
  seen.set(incident, s);
};
let batches = 0;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString();
    if (req.url !== "/email/batch") {
      arrived(String(JSON.parse(body).data?.incident_id ?? "?"), 1);
      res.writeHead(204).end();
      return;
    }
    // A Postmark batch: a fan-out chunk is one event, so its first subject names the incident;
    // messages are counted without parsing the whole array (the bench shares two cores).
    const n = body.split('"MessageStream"').length - 1;
    arrived(/"Subject":"[^"]*\((\S+?)\)"/.exec(body)?.[1] ?? "?", n);
    const batch = ++batches;
    const at = new Date().toISOString();
    const results = Array.from(
      { length: n },
      (_, k) => `{"ErrorCode":0,"Message":"OK","MessageID":"b${batch}-${k}","SubmittedAt":"${at}","To":"x"}`,
    );
    res.writeHead(200, { "content-type": "application/json" }).end(`[${results.join(",")}]`);
  });
});
await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;

const pgServer = await benchServer();
const { url, drop } = await freshBenchDatabase(pgServer.url, "bench_fanout");
const database = await openDatabase({ url });
// Per channel, a big workspace and a small one (for the probes), each with its own audience.
const spaces = {} as Record<BenchChannel, { big: string; small: string }>;
for (const channel of CHANNELS) {
  const big = (await createWorkspace(database.db, { slug: `big-${channel}`, name: "Big" })).id;
  const small = (await createWorkspace(database.db, { slug: `small-${channel}`, name: "Small" })).id;
  for (const ws of [big, small])
    await createComponent(database.db, ws, { id: "rentals", name: "Rentals" }, new Date());
  spaces[channel] = { big, small };
}
const subscribe = (channel: BenchChannel, ws: string, n: number) =>
  channel === "postmark"
    ? database.query(
        `insert into subscribers (workspace_id, id, channel, address, locale, confirmed_at, created_at)
         select $1, 'sub_' || lpad(i::text, 8, '0'), 'email', 'sub' || i || '@bench.example', 'en', now(), now()
           from generate_series(1, $2::int) i`,
        [ws, n],
      )
    : database.query(
        `insert into subscribers (workspace_id, id, channel, address, locale, secrets, confirmed_at, created_at)
         select $1, 'sub_' || lpad(i::text, 8, '0'), 'webhook', $2 || '/hooks/' || i, 'en',
                jsonb_build_object('webhook_secret', $3::text), now(), now()
           from generate_series(1, $4::int) i`,
        [ws, hook, SECRET, n],
      );
const t = performance.now();
for (const channel of CHANNELS) {
  await subscribe(channel, spaces[channel].big, N);
  await subscribe(channel, spaces[channel].small, 100);
}
await database.query("analyze");
console.log(
  `${N.toLocaleString("en")} subscribers per channel inserted in ${((performance.now() - t) / 1000).toFixed(1)} s`,
);

/** CPU seconds (user + system) the processes have used so far, from /proc (0 where it cannot be read). */
function cpuSeconds(pids: number[]): Map<number, number> {
  return new Map(
    pids.map((pid) => {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux)
        return [pid, (Number(fields[11]) + Number(fields[12])) / 100];
      } catch {
        return [pid, 0];
      }
    }),
  );
}
/** The PostgreSQL backends serving this database (the workers' pools and ours). */
const backends = async () =>
  (
    await database.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
    )
  ).map((r) => r.pid);

/** `count` worker processes running the notifier; resolves once each is ready. */
async function startWorkers(count: number) {
  const workers = Array.from({ length: count }, () => {
    const child = spawn(
      process.execPath,
      // as `amends worker --workers 4`, with webhooks allowed to reach the loopback receiver
      [
        // e.g. FANOUT_WORKER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the workers
        ...(process.env.FANOUT_WORKER_FLAGS?.split(" ").filter(Boolean) ?? []),
        "--import",
        "tsx",
        join(import.meta.dirname, "fanout-worker.ts"),
        url,
        "4",
        hook,
      ],
      { env: process.env, stdio: ["ignore", "pipe", "inherit"] },
    );
    return {
      child,
      ready: new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d) => String(d).includes("Delivering") && resolve());
        child.on("exit", (code) => reject(new Error(`a worker exited (${code}) before it was ready`)));
      }),
    };
  });
  await Promise.all(workers.map((w) => w.ready));
  return {
    pids: workers.map((w) => w.child.pid!),
    async stop() {
      for (const w of workers) w.child.kill("SIGTERM");
      await Promise.all(workers.map((w) => new Promise((r) => w.child.on("exit", r))));
    },
  };
}

const publish = async (ws: string, id: string) => {
  const at = performance.now();
  await createIncident(
    database.db,
    ws,
    {
      id,
      title: `Rentals cannot be ended (${id})`,
      update: { body: "Investigating", components: [{ componentId: "rentals", status: "major_outage" }] },
    },
    new Date(),
  );
  return at;
};
const waitFor = async (id: string, n: number, timeoutMs: number) => {
  const end = performance.now() + timeoutMs;
  while ((seen.get(id)?.n ?? 0) < n && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
};

// The ceiling on this machine: as many bare node:http processes as workers, keep-alive, 64
// requests in flight each, posting what Amends posts (a webhook-sized body, or a Postmark batch
// of 500 e-mails of the same size) to the same receiver, nothing else. What Amends adds on top
// (queue, rendering, signing, bookkeeping in PostgreSQL) is the gap to this.
const BATCH = 500;
const BARE = `
  import http from "node:http";
  const [url, n, batch] = [process.argv[1], Number(process.argv[2]), process.argv[3] === "batch"];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const webhook = { type: "incident.opened", timestamp: new Date().toISOString(),
    data: { incident_id: "CEILING", title: "Rentals cannot be ended", body: "Investigating", url: "x".repeat(60) } };
  const email = (i) => ({ From: "Bench <status@bench.example>", To: "sub" + i + "@bench.example",
    Subject: "Rentals cannot be ended (CEILING)", TextBody: "Investigating. " + "x".repeat(400),
    HtmlBody: "<p>Investigating.</p>" + "x".repeat(800), Headers: [{ Name: "Message-ID", Value: "<" + "x".repeat(32) + "@bench.example>" }],
    Metadata: { amends_id: "x".repeat(40) }, MessageStream: "outbound" });
  const body = JSON.stringify(batch ? Array.from({ length: ${BATCH} }, (_, i) => email(i)) : webhook);
  let next = 0;
  const one = () => new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json",
      "webhook-id": "msg_" + next, "webhook-timestamp": "1700000000", "webhook-signature": "v1," + "x".repeat(44) } },
      (res) => { res.resume(); res.on("end", resolve); });
    req.on("error", reject); req.end(body);
  });
  await Promise.all(Array.from({ length: 64 }, async () => { while (next++ < n) await one(); }));
  agent.destroy();`;
async function ceiling(channel: BenchChannel, processes: number): Promise<number> {
  const messages = Math.min(N, 200_000);
  const perRequest = channel === "postmark" ? BATCH : 1;
  const requests = Math.ceil(messages / perRequest / processes);
  const target = channel === "postmark" ? `${hook}/email/batch` : `${hook}/ceiling`;
  seen.delete("CEILING");
  await Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise((r) =>
          spawn(
            process.execPath,
            ["--input-type=module", "-e", BARE, target, String(requests), perRequest > 1 ? "batch" : "one"],
            { stdio: "inherit" },
          ).on("exit", r),
        ),
    ),
  );
  // From the first arrival to the last: the processes' start-up is not the client's speed.
  const c = seen.get("CEILING");
  return c ? c.n / ((c.last - c.first) / 1000) : Number.NaN;
}

const rows: Record<string, Record<string, string>> = {};
const summary: string[] = [];
const ms = (n: number) => `${Math.round(n).toLocaleString("en")}`;
for (const channel of CHANNELS) {
  const { big, small } = spaces[channel];
  for (const count of WORKERS) {
    const workers = await startWorkers(count);
    // Time to first message, on a small audience, repeated.
    const firsts: number[] = [];
    for (let i = 0; i < PROBES; i++) {
      const id = `PROBE-${channel}-${count}-${i}`;
      const at = await publish(small, id);
      await waitFor(id, 100, 30_000);
      firsts.push((seen.get(id)?.first ?? Number.NaN) - at);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    }
    firsts.sort((a, b) => a - b);
    const pct = (p: number) => firsts[Math.min(firsts.length - 1, Math.ceil((p / 100) * firsts.length) - 1)]!;

    const id = `BIG-${channel}-${count}`;
    const requestsBefore = batches;
    const pgBefore = cpuSeconds(await backends());
    const workersBefore = cpuSeconds(workers.pids);
    const receiverBefore = process.cpuUsage();
    const t = await publish(big, id);
    await waitFor(id, N, 30 * 60_000);
    const s = seen.get(id);
    const lastS = s ? (s.last - t) / 1000 : Number.NaN;
    // CPU per message: the workers', PostgreSQL's backends' (those that came up since count from
    // zero) and this process's (the receiver, and the bench polling).
    const used = (before: Map<number, number>, after: Map<number, number>) =>
      [...after].reduce((sum, [pid, cpu]) => sum + cpu - (before.get(pid) ?? 0), 0);
    const received = s?.n ?? 0;
    const perMessage = (seconds: number) => `${((seconds / received) * 1e6).toFixed(0)} µs`;
    const cpu = {
      workers: perMessage(used(workersBefore, cpuSeconds(workers.pids))),
      postgres: perMessage(used(pgBefore, cpuSeconds(await backends()))),
      receiver: perMessage(Object.values(process.cpuUsage(receiverBefore)).reduce((a, b) => a + b) / 1e6),
    };
    await workers.stop();
    const rate = received / lastS;
    const bare = await ceiling(channel, count);
    const label = `${channel} ${count} worker${count > 1 ? "s" : ""}`;
    rows[label] = {
      "first p50/p99": `${pct(50).toFixed(0)} / ${pct(99).toFixed(0)} ms`,
      "first (big)": `${s ? (s.first - t).toFixed(0) : "-"} ms`,
      last: `${lastS.toFixed(1)} s${channel === "postmark" ? ` (${batches - requestsBefore} requests)` : ""}`,
      received: `${received}`,
      "msgs/s": ms(rate),
      "bare ceiling": `${ms(bare)} msgs/s`,
      "÷ ceiling": (rate / bare).toFixed(2),
      "cpu/msg worker · pg · receiver": `${cpu.workers} · ${cpu.postgres} · ${cpu.receiver}`,
    };
    summary.push(
      `${label}: ${ms(rate)} msgs/s = ${(rate / bare).toFixed(2)} × the bare ${ms(bare)} msgs/s; ` +
        `first p99 ${pct(99).toFixed(0)} ms; last ${lastS.toFixed(1)} s for ${received.toLocaleString("en")}; ` +
        `cpu per message: workers ${cpu.workers}, PostgreSQL ${cpu.postgres}, receiver ${cpu.receiver}`,
    );
  }
}
console.log(`\nfan-out to ${N.toLocaleString("en")} recipients per channel, PostgreSQL:`);
console.table(rows);
for (const line of summary) console.log(line);
console.log("targets: first p99 ≤ 1000 ms over the probes; last ≤ 60 s for 1 M; ≥ 0.8 of the bare ceiling");
await database.close();
await drop();
await pgServer.stop();
receiver.close();
process.exit(0);
