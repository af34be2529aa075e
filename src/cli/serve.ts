import { randomBytes } from "node:crypto";
import { databaseTarget, type Settings, serverFile } from "../config.ts";
import { buildServer } from "../http/server.ts";
import { every, queueOverdueReminders } from "../incidents/reminders.ts";
import { tickMaintenance } from "../maintenance/store.ts";
import { startMonitors } from "../monitors/engine.ts";
import { channelsFromEnv } from "../notifications/channels/index.ts";
import { socialChannels, startNotifier } from "../notifications/notifier.ts";
import { parseRateLimits } from "../notifications/rate-limits.ts";
import { describeTarget, openDatabase } from "../storage/database.ts";
import { firstRun } from "./first-run.ts";
import { readServerLock, writeServerLock } from "./server-lock.ts";

export interface ServeOptions {
  /** Load the demo workspace when the database has none. */
  demo: boolean;
  log: (line: string) => void;
}

/** Starts the server and resolves once it listens; returns a function that stops it. */
export async function serve(settings: Settings, options: ServeOptions): Promise<() => Promise<void>> {
  const target = databaseTarget(settings);
  if (!settings.databaseUrl) {
    const other = readServerLock(serverFile(settings));
    if (other)
      throw new Error(`another Amends server (pid ${other.pid}, ${other.url}) is using ${settings.dataDir}`);
  }
  const database = await openDatabase(target);
  const localSecret = randomBytes(32).toString("base64url");
  // Servers starting together on an empty database: one loads the demo and makes the owner link.
  const first = await firstRun(database, { demo: options.demo }, new Date());
  const demoToken = first.demo?.token;
  if (first.demo) {
    const loaded = first.demo;
    const n = loaded.counts;
    options.log(
      `Loaded the demo workspace "${loaded.workspace.name}": ${n.components} components, ${n.customers} customers, ${n.sessions} rentals, one past outage.`,
    );
  }
  const channels = channelsFromEnv();
  const app = await buildServer({
    database,
    localSecret,
    channels,
    logger: process.env.AMENDS_LOG ? { level: process.env.AMENDS_LOG } : false,
  });
  await app.listen({ port: settings.port, host: settings.host });
  // Missed "next update by" promises remind the team; the page says so on its own.
  const stopReminders = every(30_000, () => queueOverdueReminders(database, new Date()));
  // Maintenance starts, ends and overruns on the clock; pages hear of it through NOTIFY.
  const stopMaintenance = every(15_000, () => tickMaintenance(database, new Date()));
  // The embedded database has one process: it delivers too. On PostgreSQL, AMENDS_NOTIFY=off leaves
  // delivery to `amends worker` processes.
  const notifier =
    process.env.AMENDS_NOTIFY === "off"
      ? undefined
      : await startNotifier(database, {
          channels,
          rateLimits: parseRateLimits(process.env.AMENDS_RATE_LIMITS),
        });
  // Monitors are checked in the server by default; on PostgreSQL each slot is claimed once across processes.
  const monitors =
    process.env.AMENDS_MONITORS === "off"
      ? undefined
      : await startMonitors(database, { social: socialChannels(channels) });
  const shownHost = settings.host === "0.0.0.0" || settings.host === "::" ? "localhost" : settings.host;
  const url = `http://${shownHost}:${settings.port}`;
  const unlock = settings.databaseUrl
    ? () => {}
    : writeServerLock(serverFile(settings), { pid: process.pid, url, secret: localSecret });

  options.log(`Amends is running on ${describeTarget(target)}.`);
  options.log(`  Status page   ${url}/`);
  options.log(`  Statuspage API ${url}/api/v2/summary.json`);
  options.log(`  Console       ${url}/admin`);
  options.log(`  Admin API     ${url}/api/v1  (OpenAPI: ${url}/api/v1/openapi.json)`);
  options.log(`  Health        ${url}/healthz · metrics ${url}/metrics`);
  options.log(
    `  Notifications ${Object.keys(channels).join(", ")}${notifier ? "" : " (delivery left to `amends worker`)"}`,
  );
  if (demoToken) {
    options.log(`  API token     ${demoToken}`);
    options.log("                (shown once; make more with `npx amends token create --name NAME`)");
  } else {
    options.log("  API token     create one with `npx amends token create --name NAME`");
  }
  // First run: nobody can sign in yet, and there is no default password: a one-time link makes the owner.
  if (first.setupToken === "elsewhere") {
    options.log("  Create the owner account with the one-time link printed by the server started alongside");
    options.log("                (a restart a minute later prints a new one)");
  } else if (first.setupToken) {
    options.log(`  Create the owner account (one-time link, valid 24 h):`);
    options.log(`                ${url}/admin/setup?token=${first.setupToken}`);
  }
  options.log("Press Ctrl+C to stop.");

  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      stopReminders();
      stopMaintenance();
      unlock();
      await monitors?.stop();
      await notifier?.stop();
      await app.close();
      await database.close();
    })();
    return stopping;
  };
}
