/**
 * The API fuzz test at scale: N requests generated from /api/v1/openapi.json (see
 * test/support/fuzz.ts) against a seeded workspace, each checked for a 5xx and, when refused
 * with a 4xx, for any row it changed. Prints the status histogram and every distinct finding.
 *
 *   npx tsx bench/fuzz.ts [--requests 100000] [--seed N] [--backend pglite|postgres] [--no-check] [--log] [--trace "POST /api/v1/incidents"]
 *
 * PostgreSQL: BENCH_DATABASE_URL, or a throw-away cluster started like the test suite's.
 * Exits 1 when anything was found.
 */
import { parseArgs } from "node:util";
import { buildServer } from "../src/http/server.ts";
import { type Database, openDatabase } from "../src/storage/database.ts";
import { fuzz, histogram, prepareFuzzTarget, summarise } from "../test/support/fuzz.ts";
import { benchServer, freshBenchDatabase } from "./postgres.ts";

const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "100000" },
    seed: { type: "string" },
    backend: { type: "string", default: "pglite" },
    "no-check": { type: "boolean", default: false },
    // The server's error log (pino, JSON), for what is behind a 5xx.
    log: { type: "boolean", default: false },
    // Every exchange of the operations whose "METHOD /path" contains this text.
    trace: { type: "string" },
  },
});
const N = Number(args.requests.replaceAll("_", ""));
const seed = args.seed ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31);

let database: Database;
let cleanup = async () => {};
if (args.backend === "postgres") {
  const server = await benchServer();
  const db = await freshBenchDatabase(server.url, "amends_fuzz");
  database = await openDatabase({ url: db.url });
  cleanup = async () => {
    await db.drop();
    await server.stop();
  };
} else database = await openDatabase({ memory: true });

const target = await prepareFuzzTarget(database, (d) =>
  buildServer({ database: d, logger: args.log ? { level: "error" } : false }),
);
console.log(`fuzzing ${N.toLocaleString("en")} requests on ${database.kind}, seed ${seed}`);
const started = performance.now();
const report = await fuzz(target, {
  requests: N,
  seed,
  checkChanges: !args["no-check"],
  extraIds: target.extraIds,
  onExchange: (operation, request, status, answer) => {
    if (args.trace && operation.includes(args.trace)) console.log(`${status} ${request}\n    → ${answer}`);
  },
  onProgress: (done) => {
    if (done % 5_000 === 0)
      console.log(
        `  ${done.toLocaleString("en")} requests, ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
  },
});
const seconds = (performance.now() - started) / 1000;
console.log(
  `\n${report.requests.toLocaleString("en")} requests in ${seconds.toFixed(1)} s (${(report.requests / seconds).toFixed(0)}/s)`,
);
console.log(`statuses: ${histogram(report.statuses)}`);
console.log(`5xx: ${report.serverErrors.length}`);
if (report.serverErrors.length) console.log(summarise(report.serverErrors));
console.log(`rows changed by a 4xx: ${args["no-check"] ? "not checked" : report.changedOn4xx.length}`);
if (report.changedOn4xx.length) console.log(summarise(report.changedOn4xx));
console.log(`/api 4xx not problem+json: ${report.notProblems.length}`);
if (report.notProblems.length) console.log(summarise(report.notProblems));
const unreached = [...report.reach].filter(([, r]) => r.ok === 0).map(([op, r]) => `${op} (${r.sent})`);
console.log(`operations never answered 2xx: ${unreached.length} of ${report.reach.size}`);
if (unreached.length) console.log(`  ${unreached.join("\n  ")}`);
await target.app.close();
await database.close();
await cleanup();
process.exitCode =
  report.serverErrors.length + report.changedOn4xx.length + report.notProblems.length ? 1 : 0;
