/**
 * The scheduler under load: N HTTP monitors at one interval against a loopback server (in a
 * process of its own), checked by the server's monitor engine with results written to the
 * database. Prints checks per second, scheduling drift (how late each check started against its
 * slot; target p99 ≤ 1 s), skipped slots, CPU and RSS. Issue 7's run is `--full`: 10,000
 * monitors at 30 s for 3 minutes. The default is a short run of the same load (40 s).
 *
 *   npx tsx bench/monitors.ts [--full] [--monitors 10000] [--interval 30] [--seconds 40] [--backend pglite|postgres]
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { startMonitors } from "../src/monitors/engine.ts";
import { type Database, openDatabase } from "../src/storage/database.ts";
import { createWorkspace } from "../src/workspaces/store.ts";
import { benchServer, freshBenchDatabase } from "./postgres.ts";

const { values: args } = parseArgs({
  options: {
    full: { type: "boolean", default: false },
    monitors: { type: "string", default: "10000" },
    interval: { type: "string", default: "30" },
    seconds: { type: "string" },
    backend: { type: "string", default: "pglite" },
  },
});
// The target is on loopback: as an operator would, allow monitors to check private addresses.
process.env.AMENDS_MONITORS_ALLOW_PRIVATE = "1";
const N = Number(args.monitors.replaceAll("_", ""));
const INTERVAL = Number(args.interval);
const SECONDS = Number(args.seconds ?? (args.full ? 180 : 40));

// The target: a loopback HTTP server in its own process, so its CPU is not counted as ours.
const target = spawn(
  process.execPath,
  [
    "-e",
    `const s = require("node:http").createServer((q, r) => r.end('{"status":"ok"}'));
     s.keepAliveTimeout = 60000;
     s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const port = await new Promise<number>((resolve) =>
  target.stdout!.once("data", (d) => resolve(Number(String(d)))),
);

let database: Database;
let cleanup = async () => {};
if (args.backend === "postgres") {
  const pg = await benchServer();
  const { url, drop } = await freshBenchDatabase(pg.url, "bench_monitors");
  database = await openDatabase({ url });
  cleanup = async () => {
    await database.close();
    await drop();
    await pg.stop();
  };
} else {
  database = await openDatabase({ memory: true });
  cleanup = () => database.close();
}
const ws = await createWorkspace(database.db, { slug: "bench", name: "Bench" });
const ids = Array.from({ length: N }, (_, i) => `mon_${i}`);
await database.query(
  `insert into monitors (workspace_id, id, name, kind, target, interval_seconds, timeout_ms, retries, confirm, on_failure, state)
   select $1, id, id, 'http', $2, $3, 10000, 0, '{"consecutive":3}', 'alert_team', 'up' from unnest($4::text[]) as id`,
  [ws.id, `http://127.0.0.1:${port}/health`, INTERVAL, ids],
);
console.log(
  `${N.toLocaleString("en")} HTTP monitors every ${INTERVAL} s on ${database.kind} for ${SECONDS} s (expect ${(N / INTERVAL).toFixed(0)} checks/s)…`,
);

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 500);
const cpuStart = process.cpuUsage();
const t0 = performance.now();
const engine = await startMonitors(database, { location: "bench", flushMs: 1_000 });
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpuStart);
const stats = engine.scheduler.stats();
const counts = engine.counts();
await engine.stop();
clearInterval(sampler);
const [stored] = await database.query<{ n: number }>("select count(*)::int as n from monitor_results");

const cpuPercent = ((cpu.user + cpu.system) / 1e6 / elapsed) * 100;
console.log(
  `checks          ${counts.checks.toLocaleString("en")} (${(counts.checks / elapsed).toFixed(0)}/s), ${counts.failures} failed`,
);
console.log(`results stored  ${stored!.n.toLocaleString("en")}`);
console.log(
  `drift           p50 ${stats.driftP50Ms} ms · p99 ${stats.driftP99Ms} ms · max ${stats.driftMaxMs} ms (target p99 ≤ 1000 ms)`,
);
console.log(`skipped slots   ${stats.skipped}`);
console.log(
  `CPU             ${cpuPercent.toFixed(0)}% of one core (user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s)`,
);
console.log(`RSS             peak ${(peakRss / 1e6).toFixed(0)} MB`);
target.kill();
await cleanup();
process.exit(stats.driftP99Ms <= 1000 ? 0 : 1);
