/** `amends serve` and `amends worker`: the long-running processes. */
import { databaseTarget } from "../../config.ts";
import { startMonitors } from "../../monitors/engine.ts";
import { channelsFromEnv } from "../../notifications/channels/index.ts";
import { socialChannels, startNotifier } from "../../notifications/notifier.ts";
import { parseRateLimits } from "../../notifications/rate-limits.ts";
import { openDatabase } from "../../storage/database.ts";
import { CliError, settings } from "../context.ts";
import { serve as startServer } from "../serve.ts";

export async function serve(o: { port?: string; host?: string; demo?: boolean }) {
  const s = settings();
  if (o.port) s.port = Number(o.port);
  if (o.host) s.host = o.host;
  const stop = await startServer(s, { demo: Boolean(o.demo), log: (l) => console.log(l) });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stop().then(() => process.exit(0));
    });
  }
}

export async function worker(o: { workers: string }) {
  const s = settings();
  if (!s.databaseUrl) throw new CliError("error: workers need PostgreSQL (--database-url or DATABASE_URL)");
  const database = await openDatabase(databaseTarget(s));
  const channels = channelsFromEnv();
  const notifier = await startNotifier(database, {
    channels,
    rateLimits: parseRateLimits(process.env.AMENDS_RATE_LIMITS),
    workers: Number(o.workers),
  });
  // Monitors too (each slot is claimed once across all processes); AMENDS_MONITORS=off leaves them out.
  const monitors =
    process.env.AMENDS_MONITORS === "off"
      ? undefined
      : await startMonitors(database, { social: socialChannels(channels) });
  console.log(`Delivering notifications${monitors ? " and checking monitors" : ""}. Press Ctrl+C to stop.`);
  const stop = async () => {
    await monitors?.stop();
    await notifier.stop();
    await database.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
