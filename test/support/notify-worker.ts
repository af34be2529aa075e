/**
 * A notifications worker in its own process, as `amends worker` runs it, delivering webhooks and
 * e-mail; the crash test kills it with SIGKILL at random moments. Prints "ready" once the queue
 * is up. It keeps pg-boss's own expiry (minutes): what it holds when killed is taken up through
 * the claims' lease, as in production.
 * Usage: tsx notify-worker.ts <database-url> <smtp-url> <send-jobs> <in-flight-per-job> [lease-seconds]
 */
import { smtpSender } from "../../src/notifications/channels/email.ts";
import { webhookSender } from "../../src/notifications/channels/webhook.ts";
import { startNotifier } from "../../src/notifications/notifier.ts";
import { openDatabase } from "../../src/storage/database.ts";

const [url, smtpUrl, workers, parallel, lease] = process.argv.slice(2) as string[];
const database = await openDatabase({ url: url! }, { migrate: false });
await startNotifier(database, {
  channels: {
    webhook: [webhookSender({ allowPrivateTargets: true })], // the receiver is on loopback
    email: [smtpSender({ url: smtpUrl!, from: "Crash <status@crash.example>" })],
  },
  workers: Number(workers),
  parallel: Number(parallel),
  ...(lease && { leaseSeconds: Number(lease) }),
});
process.stdout.write("ready\n");
