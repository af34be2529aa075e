/**
 * `amends worker`'s delivery, for the fan-out bench: the same notifier, but its webhooks may go
 * to the bench's loopback receiver (`amends worker` itself never posts to a private address),
 * and e-mail goes through Postmark's batch API at the bench's receiver.
 * Usage: tsx bench/fanout-worker.ts <database-url> <send-jobs> <api-base>
 */
import { postmarkSender } from "../src/notifications/channels/postmark.ts";
import { webhookSender } from "../src/notifications/channels/webhook.ts";
import { startNotifier } from "../src/notifications/notifier.ts";
import { openDatabase } from "../src/storage/database.ts";

const [url, workers, apiBase] = process.argv.slice(2) as [string, string, string];
const database = await openDatabase({ url }, { migrate: false });
// FANOUT_STATEMENTS=1: statements by kind, their count, rows and time, printed at exit.
const statements = new Map<string, { n: number; ms: number; rows: number }>();
if (process.env.FANOUT_STATEMENTS) {
  const query = database.query.bind(database);
  database.query = (async (text: string, params?: unknown[]) => {
    const at = performance.now();
    const rows = await query(text, params);
    const key = text.replace(/\s+/g, " ").trim().slice(0, 70);
    const s = statements.get(key) ?? { n: 0, ms: 0, rows: 0 };
    statements.set(key, { n: s.n + 1, ms: s.ms + performance.now() - at, rows: s.rows + rows.length });
    return rows;
  }) as typeof database.query;
}
const notifier = await startNotifier(database, {
  channels: {
    email: [postmarkSender({ serverToken: "bench", from: "Bench <status@bench.example>", apiBase })],
    webhook: [webhookSender({ allowPrivateTargets: true })],
  },
  workers: Number(workers),
});
console.log("Delivering notifications.");
// An orderly exit, so that a worker run with --cpu-prof writes its profile.
process.on("SIGTERM", () => {
  for (const [k, s] of [...statements].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15))
    console.error(
      `${String(s.n).padStart(7)} ${s.ms.toFixed(0).padStart(7)} ms ${String(s.rows).padStart(7)} rows  ${k}`,
    );
  void notifier.stop().finally(() => process.exit(0));
});
