/**
 * A separate process that applies a run and exports it to Stripe; the crash test kills it with
 * SIGKILL at random moments. Prints "ready" once connected, so kills land inside the work.
 * Usage: tsx apply-worker.ts <database-url> <workspace-id> <run-id> <stripe-url>
 */
import { exportRunToStripe, stripeClient } from "../../src/billing/stripe-export.ts";
import { applyRun } from "../../src/compensation/apply.ts";
import { openDatabase } from "../../src/storage/database.ts";

const [url, workspaceId, runId, stripeUrl] = process.argv.slice(2) as [string, string, string, string];
const database = await openDatabase({ url }, { migrate: false });
process.stdout.write("ready\n");
await applyRun(database, workspaceId, runId, new Date(), { chunk: 3 });
await exportRunToStripe(database, stripeClient("sk_test_crash", stripeUrl), workspaceId, runId, {
  now: new Date(),
});
await database.close();
process.stdout.write("done\n");
