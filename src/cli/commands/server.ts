/** `amends serve` and `amends worker`: the long-running processes. */
import { databaseTarget } from "../../config.ts";
import { serveProcessMetrics } from "../../lib/metrics.ts";
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

export async function worker(o: { workers: string; metricsPort?: string }) {
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
  // Its counts (deliveries, first messages, checks) for Prometheus: a worker has no other HTTP server.
  const metricsPort = o.metricsPort ?? process.env.AMENDS_METRICS_PORT;
  if (metricsPort !== undefined && !/^\d{1,5}$/.test(metricsPort))
    throw new CliError(`error: --metrics-port: a port number, not "${metricsPort}"`);
  const metrics = metricsPort ? await serveProcessMetrics(Number(metricsPort), s.host) : undefined;
  console.log(`Delivering notifications${monitors ? " and checking monitors" : ""}. Press Ctrl+C to stop.`);
  if (metrics) console.log(`Metrics at http://${s.host}:${metrics.port}/metrics`);
  const stop = async () => {
    await metrics?.close();
    await monitors?.stop();
    await notifier.stop();
    await database.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
