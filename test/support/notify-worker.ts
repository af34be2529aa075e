/**
 * A notifications worker in its own process, as `amends worker` runs it, delivering webhooks;
 * the crash test kills it with SIGKILL at random moments. Prints "ready" once the queue is up.
 * Usage: tsx notify-worker.ts <database-url>
 */
import { webhookSender } from "../../src/notifications/channels/webhook.ts";
import { startNotifier } from "../../src/notifications/notifier.ts";
import { openDatabase } from "../../src/storage/database.ts";

const [url] = process.argv.slice(2) as [string];
const database = await openDatabase({ url }, { migrate: false });
await startNotifier(database, {
  channels: { webhook: [webhookSender()] },
  workers: 2,
  // Work orphaned by a kill is taken up again within seconds, not minutes.
  queue: { expireInSeconds: 4, maintenanceIntervalSeconds: 1 },
  reclaimAfterSeconds: 3,
});
process.stdout.write("ready\n");
