/**
 * `amends worker`'s delivery, for the fan-out bench: the same notifier, but its webhooks may go
 * to the bench's loopback receiver (`amends worker` itself never posts to a private address).
 * Usage: tsx bench/fanout-worker.ts <database-url> <send-jobs>
 */
import { webhookSender } from "../src/notifications/channels/webhook.ts";
import { startNotifier } from "../src/notifications/notifier.ts";
import { openDatabase } from "../src/storage/database.ts";

const [url, workers] = process.argv.slice(2) as [string, string];
const database = await openDatabase({ url }, { migrate: false });
await startNotifier(database, {
  channels: { webhook: [webhookSender({ allowPrivateTargets: true })] },
  workers: Number(workers),
});
console.log("Delivering notifications.");
