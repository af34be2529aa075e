/**
 * `amends worker`'s delivery, for the fan-out bench: the same notifier, but its webhooks may go
 * to the bench's loopback receiver (`amends worker` itself never posts to a private address).
 * With `postmark <api-base>`, e-mail goes through Postmark's batch API at the bench's receiver.
 * Usage: tsx bench/fanout-worker.ts <database-url> <send-jobs> [webhook|postmark <api-base>]
 */
import { postmarkSender } from "../src/notifications/channels/postmark.ts";
import { webhookSender } from "../src/notifications/channels/webhook.ts";
import { startNotifier } from "../src/notifications/notifier.ts";
import { openDatabase } from "../src/storage/database.ts";

const [url, workers, channel, apiBase] = process.argv.slice(2) as [string, string, string?, string?];
const database = await openDatabase({ url }, { migrate: false });
await startNotifier(database, {
  channels:
    channel === "postmark"
      ? { email: [postmarkSender({ serverToken: "bench", from: "Bench <status@bench.example>", apiBase })] }
      : { webhook: [webhookSender({ allowPrivateTargets: true })] },
  workers: Number(workers),
});
console.log("Delivering notifications.");
