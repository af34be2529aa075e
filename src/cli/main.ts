/**
 * `amends`: run the server, manage the database, and drive the API from a terminal.
 * Human output by default; `--json` prints what the API returned, for scripts.
 */
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { Transform } from "node:stream";
import { Presets, SingleBar } from "cli-progress";
import { Command, Option } from "commander";
import { databaseTarget, type Settings, serverFile, settingsFromEnv } from "../config.ts";
import { EXCLUDED_SAMPLE } from "../core/compensation/preview.ts";
import { formatMoney } from "../core/money.ts";
import { loadDemo } from "../demo/load.ts";
import { startMonitors } from "../monitors/engine.ts";
import { channelsFromEnv } from "../notifications/channels/index.ts";
import { socialChannels, startNotifier } from "../notifications/notifier.ts";
import { parseRateLimits } from "../notifications/rate-limits.ts";
import { S3Publisher, s3TargetFromEnv } from "../status-page/s3-publish.ts";
import { describeTarget, openDatabase } from "../storage/database.ts";
import { createWorkspace } from "../workspaces/store.ts";
import { type ApiClient, connectApi } from "./client.ts";
import { exportStatic } from "./export-static.ts";
import { formatComponents, formatIncident, formatProblem, parseComponent, parseWhen } from "./format.ts";
import { serve } from "./serve.ts";
import { readServerLock } from "./server-lock.ts";

class CliError extends Error {}

const program = new Command("amends")
  .description("Status page, notifications and automatic compensation for outages")
  .option("--json", "print JSON instead of text")
  .option("--data-dir <dir>", "embedded database directory (env AMENDS_DATA_DIR, default ./data)")
  .option("--database-url <url>", "PostgreSQL URL (env DATABASE_URL); the embedded database when absent")
  .option("--url <url>", "talk to the Amends server at this URL (env AMENDS_URL)")
  .option("--token <token>", "API token for --url (env AMENDS_TOKEN)")
  .option("--workspace <slug>", "workspace, when there are several (env AMENDS_WORKSPACE)");

const globals = () =>
  program.opts<{
    json?: boolean;
    dataDir?: string;
    databaseUrl?: string;
    url?: string;
    token?: string;
    workspace?: string;
  }>();

function settings(): Settings {
  const s = settingsFromEnv();
  const g = globals();
  if (g.dataDir) s.dataDir = g.dataDir;
  if (g.databaseUrl) s.databaseUrl = g.databaseUrl;
  return s;
}

const print = (json: unknown, human: () => string) =>
  console.log(globals().json ? JSON.stringify(json, null, 2) : human());

/** The API, over HTTP or in-process, as the flags and environment say (see client.ts). */
function connect(): Promise<ApiClient> {
  const g = globals();
  return connectApi(settings(), {
    url: g.url ?? process.env.AMENDS_URL,
    token: g.token ?? process.env.AMENDS_TOKEN,
    workspace: g.workspace ?? process.env.AMENDS_WORKSPACE,
  });
}

/** Runs one API call through the right transport; a problem response becomes a CLI error. */
async function api(method: string, path: string, body?: unknown): Promise<any> {
  const client: ApiClient = await connect();
  try {
    const res = await client.request(method, path, body);
    if (res.status >= 400) throw new CliError(formatProblem(res.body));
    return res.body;
  } finally {
    await client.close();
  }
}

/** Streams a file to an import-style endpoint, with a progress bar on a terminal. */
async function upload(path: string, file: string): Promise<any> {
  const type = /\.(ndjson|jsonl)$/i.test(file)
    ? "application/x-ndjson"
    : /\.json$/i.test(file)
      ? "application/json"
      : "text/csv";
  const size = statSync(file).size;
  const bar =
    process.stderr.isTTY && !globals().json
      ? new SingleBar(
          {
            format: " {bar} {percentage}% | {sentMb}/{totalMb} MB | {eta_formatted} left",
            stream: process.stderr,
          },
          Presets.shades_classic,
        )
      : undefined;
  // Counted in bytes, shown in MB: a file under a megabyte still moves the bar.
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  bar?.start(Math.max(1, size), 0, { sentMb: mb(0), totalMb: mb(size) });
  let sent = 0;
  const counted = createReadStream(file).pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        bar?.update(sent, { sentMb: mb(sent) });
        done(null, chunk);
      },
    }),
  );
  const client = await connect();
  try {
    const res = await client.upload(path, counted, type);
    bar?.stop();
    if (res.status >= 400) throw new CliError(formatProblem(res.body));
    return res.body;
  } finally {
    bar?.stop();
    await client.close();
  }
}

/** Commands that need the database files themselves refuse while a server holds them. */
async function withDatabase<T>(fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const s = settings();
  if (!s.databaseUrl) {
    const lock = readServerLock(serverFile(s));
    if (lock)
      throw new CliError(`the server (pid ${lock.pid}, ${lock.url}) holds ${s.dataDir}; stop it first`);
  }
  const database = await openDatabase(databaseTarget(s));
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

program
  .command("serve")
  .description("run the HTTP server (status page, API); migrates the database first")
  .option("-p, --port <port>", "port (env PORT, default 3000)")
  .option("--host <host>", "interface (env HOST, default 127.0.0.1)")
  .option("--demo", "load the demo workspace when the database is empty")
  .action(async (o: { port?: string; host?: string; demo?: boolean }) => {
    const s = settings();
    if (o.port) s.port = Number(o.port);
    if (o.host) s.host = o.host;
    const stop = await serve(s, { demo: Boolean(o.demo), log: (l) => console.log(l) });
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        stop().then(() => process.exit(0));
      });
    }
  });

program
  .command("worker")
  .description(
    "deliver notifications and check monitors (PostgreSQL: run as many as you like beside servers started with AMENDS_NOTIFY=off, AMENDS_MONITORS=off)",
  )
  .option("--workers <n>", "send jobs at once in this process", "2")
  .action(async (o: { workers: string }) => {
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
  });

program
  .command("migrate")
  .description("apply database migrations and exit")
  .action(async () => {
    await withDatabase(async () => {});
    console.log(`Migrated ${describeTarget(databaseTarget(settings()))}.`);
  });

program
  .command("demo")
  .description("load the demo workspace (The Fleet, a car-sharing company)")
  .action(async () => {
    const loaded = await withDatabase((db) => loadDemo(db, new Date()));
    print({ workspace: loaded.workspace.slug, token: loaded.token, ...loaded.counts }, () =>
      [
        `Loaded "${loaded.workspace.name}" (${loaded.workspace.slug}): ${loaded.counts.customers} customers, ${loaded.counts.sessions} rentals.`,
        `API token (shown once): ${loaded.token}`,
      ].join("\n"),
    );
  });

const workspace = program.command("workspace").description("workspaces (one per company)");
workspace
  .command("create")
  .requiredOption("--name <name>", "company name shown on the page")
  .requiredOption("--slug <slug>", "short identifier, e.g. acme")
  .option("--time-zone <tz>", "IANA time zone for the page", "UTC")
  .action(async (o: { name: string; slug: string; timeZone: string }) => {
    const ws = await withDatabase((db) => createWorkspace(db.db, o));
    print(ws, () => `Created workspace ${ws.slug} (${ws.id}).`);
  });

const token = program.command("token").description("API tokens");
token
  .command("create")
  .description("create a token; its secret is printed once")
  .requiredOption("--name <name>", "what the token is for")
  .option(
    "--scope <scope...>",
    "scopes: read, components:write, incidents:write, tokens:write, * (default *)",
  )
  .option("--expires-in <duration>", "e.g. 90d")
  .action(async (o: { name: string; scope?: string[]; expiresIn?: string }) => {
    const res = await api("POST", "/api/v1/tokens", {
      name: o.name,
      ...(o.scope && { scopes: o.scope }),
      ...(o.expiresIn && { expires_at: parseWhen(o.expiresIn, new Date()) }),
    });
    print(
      res,
      () => `${res.secret}\n(token ${res.id}, scopes ${res.scopes.join(" ")}; shown once, keep it safe)`,
    );
  });
token.command("list").action(async () => {
  const res = await api("GET", "/api/v1/tokens");
  print(res, () =>
    res.tokens
      .map((t: any) => `${t.id}  ${t.name}  ${t.scopes.join(" ")}${t.revoked_at ? "  (revoked)" : ""}`)
      .join("\n"),
  );
});
token.command("revoke <id>").action(async (id: string) => {
  const res = await api("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  print(res, () => `Revoked ${res.id}.`);
});

const component = program.command("component").description("components of the status page");
component
  .command("list")
  .description("the component tree with effective statuses")
  .action(async () => {
    const res = await api("GET", "/api/v1/components");
    print(res, () => formatComponents(res.components));
  });
component
  .command("create")
  .requiredOption("--name <name>")
  .option("--id <id>", "your own id, e.g. end-rental-milan")
  .option("--parent <id>", "parent component")
  .option("--region <region>", "city, region or site")
  .action(async (o: { name: string; id?: string; parent?: string; region?: string }) => {
    const res = await api("POST", "/api/v1/components", {
      name: o.name,
      ...(o.id && { id: o.id }),
      ...(o.parent && { parent_id: o.parent }),
      ...(o.region && { region: o.region }),
    });
    print(res, () => `Created ${res.id} (${res.path.join(" › ")}).`);
  });

const statusOption = () =>
  new Option("--status <status>", "investigating | identified | monitoring").choices([
    "investigating",
    "identified",
    "monitoring",
    "resolved",
  ]);
const timing = (o: { eta?: string; nextUpdate?: string }) => ({
  ...(o.eta && { eta: parseWhen(o.eta, new Date()) }),
  ...(o.nextUpdate && { next_update_by: parseWhen(o.nextUpdate, new Date()) }),
});

/** An API answer's word on messages that wait for cost confirmation (only paid SMS ever do). */
const waits = (res: { notification?: { message: string } | null }) =>
  res.notification ? `\n${res.notification.message}` : "";

const incident = program.command("incident").description("open, update and resolve incidents");
incident
  .command("open")
  .description("open an incident; it shows on the status page at once")
  .requiredOption("--title <title>")
  .requiredOption("--body <text>", "first update for customers")
  .option("-c, --component <id=status...>", "affected components, e.g. end-rental-milan=major_outage")
  .option("--impact <impact>", "none | minor | major | critical (derived when absent)")
  .addOption(statusOption())
  .option("--eta <when>", "expected fix: 2h, 30m, or an ISO date-time")
  .option("--next-update <when>", "promise the next update by: 30m, or an ISO date-time")
  .option("--id <id>", "your own incident id")
  .action(async (o: any) => {
    const res = await api("POST", "/api/v1/incidents", {
      title: o.title,
      body: o.body,
      ...(o.id && { id: o.id }),
      ...(o.impact && { impact: o.impact }),
      ...(o.status && { status: o.status }),
      ...(o.component && { components: o.component.map(parseComponent) }),
      ...timing(o),
    });
    print(res, () => `Opened\n${formatIncident(res)}${waits(res)}`);
  });
incident
  .command("update <id>")
  .description("post an update to an incident's timeline")
  .requiredOption("--body <text>")
  .addOption(statusOption())
  .option("-c, --component <id=status...>", "components whose status changes")
  .option("--eta <when>", "expected fix: 2h, 30m, or an ISO date-time")
  .option("--next-update <when>", "promise the next update by")
  .action(async (id: string, o: any) => {
    const res = await api("POST", `/api/v1/incidents/${encodeURIComponent(id)}/updates`, {
      body: o.body,
      ...(o.status && { status: o.status }),
      ...(o.component && { components: o.component.map(parseComponent) }),
      ...timing(o),
    });
    print(res, () => `Updated\n${formatIncident(res)}${waits(res)}`);
  });
incident
  .command("resolve <id>")
  .description("resolve an incident; its components return to operational")
  .option("--body <text>", "closing message")
  .action(async (id: string, o: { body?: string }) => {
    const res = await api(
      "POST",
      `/api/v1/incidents/${encodeURIComponent(id)}/resolve`,
      o.body ? { body: o.body } : {},
    );
    print(res, () => `Resolved\n${formatIncident(res)}${waits(res)}`);
  });
/** The letter after an incident, as text: each section under its heading. */
const formatLetter = (r: { status: string; sections: Record<string, string>; url: string }) =>
  [
    `${r.status} · ${r.url}`,
    ...["what_happened", "what_we_did", "what_now", "what_we_change"].map(
      (k) => `\n## ${k.replaceAll("_", " ")}\n${r.sections[k] || "(to write)"}`,
    ),
  ].join("\n");
incident
  .command("report <id>")
  .description(
    "the letter after a resolved incident: draft it, write a section (--what-we-change), publish and send it",
  )
  .option("--draft", "draft it (again) from the timeline and the figures")
  .option("--what-we-change <text>", "what you change so it does not happen again")
  .option("--publish", "publish it on its page and send it to the affected customers")
  .action(async (id: string, o: { draft?: boolean; whatWeChange?: string; publish?: boolean }) => {
    const path = `/api/v1/incidents/${encodeURIComponent(id)}/postmortem`;
    let res = o.draft ? await api("POST", path) : undefined;
    if (o.whatWeChange) res = await api("PATCH", path, { sections: { what_we_change: o.whatWeChange } });
    if (o.publish) res = await api("POST", `${path}/publish`);
    res ??= await api("GET", path);
    print(
      res,
      () => `${formatLetter(res)}${o.publish ? `\n\nQueued for ${res.messages_queued} customers.` : ""}`,
    );
  });
incident
  .command("list")
  .addOption(new Option("--state <state>").choices(["open", "resolved", "all"]).default("all"))
  .action(async (o: { state: string }) => {
    const res = await api("GET", `/api/v1/incidents?state=${o.state}`);
    print(res, () =>
      res.incidents.length ? res.incidents.map((i: any) => formatIncident(i)).join("\n") : "No incidents.",
    );
  });
incident.command("show <id>").action(async (id: string) => {
  const res = await api("GET", `/api/v1/incidents/${encodeURIComponent(id)}`);
  print(res, () => formatIncident(res, true));
});

program
  .command("import <kind> <file>")
  .description(
    "upsert customers, sessions or charges from CSV (.csv), NDJSON (.ndjson/.jsonl) or JSON (.json); a bad row writes nothing",
  )
  .action(async (kind: string, file: string) => {
    if (!["customers", "sessions", "charges"].includes(kind))
      throw new CliError("error: kind must be customers, sessions or charges");
    const res = await upload(`/api/v1/import/${kind}`, file);
    print(res, () => `Imported ${res.rows} ${kind}.`);
  });

const policy = program.command("policy").description("compensation policies (YAML, versioned)");
policy
  .command("put <file>")
  .description("save a policy; changed text makes a new version")
  .action(async (file: string) => {
    const res = await api("POST", "/api/v1/policies", { yaml: readFileSync(file, "utf8") });
    print(res, () =>
      res.created
        ? `Saved ${res.id} version ${res.version}.`
        : `${res.id} version ${res.version} is unchanged.`,
    );
  });
policy.command("list").action(async () => {
  const res = await api("GET", "/api/v1/policies");
  print(
    res,
    () =>
      res.policies.map((p: any) => `${p.id}  v${p.version}  ${p.created_at}`).join("\n") || "No policies.",
  );
});
policy
  .command("show <id>")
  .option("--version <n>")
  .action(async (id: string, o: { version?: string }) => {
    const res = await api(
      "GET",
      `/api/v1/policies/${encodeURIComponent(id)}${o.version ? `?version=${o.version}` : ""}`,
    );
    print(res, () => `# ${res.id} v${res.version}\n${res.yaml}`);
  });
policy
  .command("schema")
  .description("print the policy language's JSON Schema (for editors)")
  .action(async () => console.log(JSON.stringify(await api("GET", "/api/v1/policy-schema.json"), null, 2)));

const formatRun = (r: any) => {
  const money = Object.entries(r.summary.money ?? {}).map(([c, a]) =>
    formatMoney({ amount: a as number, currency: c }),
  );
  const units = Object.entries(r.summary.units ?? {}).map(([u, a]) => `${a} ${u}`);
  const lines = [
    `${r.id}  ${r.status}  incident ${r.incident_id}  policy ${r.policy.id} v${r.policy.version}`,
    `  window [${r.window.start}, ${r.window.end})`,
    `  ${r.summary.lines} action(s): ${[...money, ...units].join(", ") || "nothing"}; ${r.summary.affected} affected, ${r.summary.excluded} excluded, ${r.summary.review} to review, ${r.summary.notifications} to notify`,
  ];
  if (r.applied)
    lines.push(
      `  applied: ${r.applied.entries} ledger entries, ${r.applied.skipped} already paid, ${r.applied.messages} messages queued`,
    );
  return lines.join("\n");
};
const formatLine = (l: any) =>
  `  ${l.customerId.padEnd(10)} ${l.key.padEnd(40)} ${l.kind === "unit_credit" ? `${l.amount} ${l.unit}` : formatMoney({ amount: l.amount, currency: l.currency })}  (${l.rule})`;

const comp = program
  .command("compensate")
  .aliases(["compensation", "comp"])
  .description("compensation runs: preview → approve → apply → export");
comp
  .command("preview [incident]")
  .description("work out what a policy pays for an incident; nothing is paid yet")
  .option("--incident <id>", "the incident (or give it as the argument)")
  .requiredOption(
    "--policy <file|id>",
    "a policy YAML file (saved as a new version when changed) or a saved policy's id",
  )
  .option("--version <n>", "policy version when --policy is an id (latest when absent)")
  .option("--as-of <time>", "run time (ISO), base of credit validity")
  .option("--detected-at <time>", "when the fault was detected (ISO), base of refund deadlines")
  .option("--lines", "list every action")
  .action(async (incidentArg: string | undefined, o: any) => {
    const incidentId = o.incident ?? incidentArg;
    if (!incidentId) throw new CliError("error: which incident? give --incident ID");
    let policyRef = { policy: o.policy, ...(o.version && { policy_version: Number(o.version) }) };
    if (existsSync(o.policy)) {
      const saved = await api("POST", "/api/v1/policies", { yaml: readFileSync(o.policy, "utf8") });
      policyRef = { policy: saved.id, policy_version: saved.version };
    }
    const run = await api("POST", `/api/v1/incidents/${encodeURIComponent(incidentId)}/compensation-runs`, {
      ...policyRef,
      ...(o.asOf && { as_of: o.asOf }),
      ...(o.detectedAt && { detected_at: o.detectedAt }),
    });
    const doc =
      o.lines || globals().json ? await api("GET", `/api/v1/compensation-runs/${run.id}/preview`) : undefined;
    print(doc ?? run, () => [formatRun(run), ...(doc ? doc.lines.map(formatLine) : [])].join("\n"));
  });
comp
  .command("show <run>")
  .option("--lines", "list every action, exclusion and review item")
  .action(async (runId: string, o: { lines?: boolean }) => {
    const doc = await api("GET", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/preview`);
    print(doc, () =>
      [
        formatRun(doc.run),
        ...(o.lines
          ? [
              ...doc.lines.map(formatLine),
              ...doc.excluded.map((e: any) => `  excluded ${e.customer_id} ${e.reference}: ${e.reason}`),
              ...(doc.excluded.length < doc.run.summary.excluded
                ? [
                    `  (the first ${EXCLUDED_SAMPLE} of each reason; ${doc.run.summary.excluded} excluded in all)`,
                  ]
                : []),
              ...doc.review.map(
                (r: any) => `  review   ${r.customer_id} ${r.reference}: ${r.reason} (${r.detail})`,
              ),
            ]
          : []),
      ].join("\n"),
    );
  });
comp.command("approve <run>").action(async (runId: string) => {
  const run = await api("POST", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/approve`);
  print(run, () => formatRun(run));
});
comp
  .command("apply <run>")
  .description("book an approved run in the ledger, exactly once, and queue each customer's message")
  .action(async (runId: string) => {
    const run = await api("POST", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/apply`);
    print(run, () => formatRun(run));
  });
comp
  .command("export <run>")
  .description(
    "what the run booked: --to csv (stdout, or --out FILE) for any billing system, or --to stripe: refunds, balance credits and credit grants (the server needs STRIPE_API_KEY)",
  )
  .addOption(new Option("--to <target>", "where to").choices(["csv", "stripe"]).default("csv"))
  .option("--out <file>", "with --to csv: write the CSV here")
  .option(
    "--unit-price <unit=amount+currency...>",
    "price of a credited unit for Stripe, e.g. minutes=29EUR or minutes:berlin=29EUR",
  )
  .action(async (runId: string, o: { out?: string; to: "csv" | "stripe"; unitPrice?: string[] }) => {
    const path = `/api/v1/compensation-runs/${encodeURIComponent(runId)}`;
    if (o.to === "stripe") {
      const unitPrices: Record<string, { amount: number; currency: string }> = {};
      for (const spec of o.unitPrice ?? []) {
        const m = /^([^=]+)=(\d+)([A-Z]{3})$/.exec(spec);
        if (!m)
          throw new CliError(
            `error: --unit-price ${spec}: write it as minutes=29EUR (minor units and currency)`,
          );
        unitPrices[m[1]!] = { amount: Number(m[2]), currency: m[3]! };
      }
      const res = await api("POST", `${path}/export/stripe`, { unit_prices: unitPrices });
      print(res, () =>
        [
          `Sent ${res.sent} to Stripe (${res.alreadySent} sent before).`,
          ...res.failed.map((f: any) => `  failed ${f.key}: ${f.error}`),
        ].join("\n"),
      );
      if (res.failed.length) process.exitCode = 1;
      return;
    }
    const text = await api("GET", `${path}/export.csv`);
    if (o.out) writeFileSync(o.out, text);
    else process.stdout.write(text);
  });
comp
  .command("report <run>")
  .description("the run's report as an HTML page with charts by city and by rule")
  .option("--out <file>", "write the page here (default: stdout)")
  .action(async (runId: string, o: { out?: string }) => {
    const page = await api("GET", `/api/v1/compensation-runs/${encodeURIComponent(runId)}/report.html`);
    if (o.out) writeFileSync(o.out, page);
    else process.stdout.write(page);
  });

const notifications = program
  .command("notifications")
  .alias("notify")
  .description("who hears about incidents: estimates, events, progress");
notifications
  .command("estimate")
  .description("before opening an incident: recipients per channel and the SMS cost")
  .option("-c, --component <id...>", "components that would fail")
  .action(async (o: { component?: string[] }) => {
    const e = await api("POST", "/api/v1/notification-estimate", { components: o.component ?? [] });
    print(e, () =>
      [
        `${e.total} recipient(s): ${
          Object.entries(e.recipients)
            .map(([c, n]) => `${n} ${c}`)
            .join(", ") || "nobody"
        }`,
        `SMS: ${e.sms.messages} message(s), ${e.sms.segments} segment(s), ${e.sms.cost.map((m: { amount: number; currency: string }) => formatMoney(m)).join(" + ") || "no cost"}${e.sms.unpriced ? ` (${e.sms.unpriced} unpriced)` : ""}`,
        e.needsConfirmation
          ? "Above the threshold: the SMS will wait for `amends notifications confirm EVENT`; the free channels go at once."
          : "",
      ]
        .filter(Boolean)
        .join("\n"),
    );
  });
notifications.command("events").action(async () => {
  const res = await api("GET", "/api/v1/notification-events");
  print(
    res,
    () =>
      res.events
        .map(
          (e: {
            id: string;
            event: string;
            status: string;
            incident_id: string | null;
            estimate: { total?: number } | null;
          }) =>
            `${e.id}  ${e.event.padEnd(22)} ${e.status.padEnd(22)} ${e.incident_id ?? ""}  ${e.estimate?.total ?? "?"} recipients`,
        )
        .join("\n") || "No events.",
  );
});
notifications.command("confirm <event>").action(async (id: string) => {
  const e = await api("POST", `/api/v1/notification-events/${encodeURIComponent(id)}/confirm`);
  print(e, () => `${e.id} confirmed: sending.`);
});
notifications
  .command("watch <event>")
  .description("follow a fan-out until every message is sent, failed or held")
  .action(async (id: string) => {
    const path = `/api/v1/notification-events/${encodeURIComponent(id)}`;
    const bar = process.stderr.isTTY
      ? new SingleBar(
          { format: "{bar} {value}/{total} sent · {failed} failed · {held} held", hideCursor: true },
          Presets.shades_classic,
        )
      : undefined;
    for (let started = false; ; ) {
      const e = await api("GET", path);
      const count = (...statuses: string[]) =>
        e.progress
          .filter((p: { status: string }) => statuses.includes(p.status))
          .reduce((a: number, p: { n: number }) => a + p.n, 0);
      const total =
        e.estimate?.total ?? count("queued", "sent", "delivered", "failed", "bounced", "suppressed", "held");
      const [sent, failed, held] = [
        count("sent", "delivered"),
        count("failed", "bounced", "suppressed"),
        count("held"),
      ];
      if (bar && !started) bar.start(total, 0, { failed: 0, held: 0 });
      started = true;
      bar?.update(sent, { failed, held });
      if (e.status === "done" && sent + failed + held >= total) {
        bar?.stop();
        print(e, () => `${sent} sent, ${failed} failed, ${held} held of ${total}.`);
        return;
      }
      if (e.status === "awaiting_confirmation") {
        bar?.stop();
        throw new CliError(
          `error: ${e.waiting?.message ?? `${id} waits for confirmation: amends notifications confirm ${id}`}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });

program
  .command("export-static [dir]")
  .description("write the whole public page (HTML in every language, JSON, feeds, badge) as static files")
  .option(
    "--s3 <url>",
    "also (or only) upload it to an S3-compatible bucket, path-style: https://host/bucket[/prefix] (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AMENDS_S3_REGION)",
  )
  .action(async (dir: string | undefined, opts: { s3?: string }) => {
    if (!dir && !opts.s3) throw new CliError("give a directory, --s3 <url>, or both");
    const client = await connect();
    try {
      if (dir) {
        const files = await exportStatic(client, dir);
        print({ files }, () => `Wrote ${files.length} files to ${dir}.`);
      }
      if (opts.s3) {
        const target = s3TargetFromEnv({ ...process.env, AMENDS_S3_URL: opts.s3 })!;
        const result = await new S3Publisher(target, (path) => client.raw(path)).publish();
        print(result, () => `Uploaded ${result.uploaded} files to ${opts.s3}.`);
      }
    } finally {
      await client.close();
    }
  });

const smsLine = (e: any) =>
  `SMS: ${e.sms.messages} message(s), ${e.sms.segments} segment(s), ${e.sms.cost.map((m: { amount: number; currency: string }) => formatMoney(m)).join(" + ") || "no cost"}${e.sms.unpriced ? ` (${e.sms.unpriced} unpriced)` : ""}`;
const estimateLines = (e: any) => [
  `${e.total} recipient(s): ${
    Object.entries(e.recipients)
      .map(([c, n]) => `${n} ${c}`)
      .join(", ") || "nobody"
  }`,
  smsLine(e),
];

/** An ETA from the command line: minutes or hours from now ("90m", "2h"), or an instant with its offset. */
function etaOf(when: string): string {
  const relative = /^\+?(\d{1,5})\s*(m|min|h)$/i.exec(when.trim());
  if (relative) {
    const minutes = Number(relative[1]) * (relative[2]!.toLowerCase() === "h" ? 60 : 1);
    return new Date(Date.now() + minutes * 60_000).toISOString();
  }
  return when; // the server checks it (an ISO 8601 instant with Z or an offset)
}

const protocol = program
  .command("protocol")
  .description("emergency protocols: prepared incidents started in one action");
protocol.command("list").action(async () => {
  const res = await api("GET", "/api/v1/protocols");
  print(
    res,
    () =>
      res.items
        .map(
          (p: { name: string; title: string; components: { id: string }[]; incidentId: string | null }) =>
            `${p.name.padEnd(24)} ${p.title}  [${p.components.map((c) => c.id).join(", ")}]${p.incidentId ? `  last: ${p.incidentId}` : ""}`,
        )
        .join("\n") || "No protocols. Create one with PUT /api/v1/protocols/NAME.",
  );
});
protocol
  .command("start <name>")
  .description("open the incident and send every message at once; shows the SMS cost first")
  .option("--dry-run", "only show who it would reach and what the SMS would cost")
  .option("-y, --yes", "do not ask before sending paid SMS")
  .option("--eta <when>", "when the fix is expected: 90m, 2h, or 2026-12-04T18:00+01:00")
  .action(async (name: string, o: { dryRun?: boolean; yes?: boolean; eta?: string }) => {
    const path = `/api/v1/protocols/${encodeURIComponent(name)}/start`;
    const eta = o.eta === undefined ? undefined : etaOf(o.eta);
    const dry = await api("POST", path, { dryRun: true, eta });
    const e = dry.estimate;
    if (!globals().json || o.dryRun) print(dry, () => estimateLines(e).join("\n"));
    if (o.dryRun) return;
    const paid = e.sms.messages > 0 && e.sms.cost.some((m: { amount: number }) => m.amount > 0);
    if (paid && !o.yes) {
      if (!process.stdin.isTTY)
        throw new CliError("error: this sends paid SMS; run again with --yes to confirm");
      const { createInterface } = await import("node:readline/promises");
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Send, including ${smsLine(e)}? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("Not started.");
    }
    const res = await api("POST", path, { dryRun: false, eta });
    print(res, () =>
      res.alreadyOpen
        ? `Protocol ${name} is already under way: ${res.incident.id} (${res.incident.status}).`
        : `Started ${name}: ${res.incident.id} "${res.incident.title}" on ${res.incident.components.map((c: { id: string; status: string }) => `${c.id}=${c.status}`).join(", ") || "no components"}.${waits(res)}`,
    );
  });

const monitor = program.command("monitor").description("monitors on components");
monitor.command("list").action(async () => {
  const res = await api("GET", "/api/v1/monitors");
  print(
    res,
    () =>
      res.items
        .map(
          (m: {
            id: string;
            kind: string;
            state: string;
            name: string;
            target: string;
            lastLatencyMs: number | null;
          }) =>
            `${m.id.padEnd(24)} ${m.kind.padEnd(9)} ${m.state.padEnd(8)} ${m.name}  ${m.target}${m.lastLatencyMs !== null ? `  ${m.lastLatencyMs} ms` : ""}`,
        )
        .join("\n") || "No monitors.",
  );
});
monitor
  .command("results <id>")
  .option("--resolution <r>", "raw, hour or day", "raw")
  .action(async (id: string, o: { resolution: string }) => {
    const res = await api(
      "GET",
      `/api/v1/monitors/${encodeURIComponent(id)}/results?resolution=${o.resolution}`,
    );
    print(res, () =>
      res.items
        .map((r: any) =>
          o.resolution === "raw"
            ? `${r.at}  ${r.ok ? "ok  " : "FAIL"}  ${r.latencyMs ?? "-"} ms  ${r.location}${r.error ? `  ${r.error}` : ""}`
            : `${r.at}  ${r.checks} checks, ${r.failures} failed, p50 ${r.latencyP50Ms ?? "-"} ms, p95 ${r.latencyP95Ms ?? "-"} ms`,
        )
        .join("\n"),
    );
  });

program
  .command("probe")
  .description(
    "check this workspace's monitors from here (another region): --url SERVER --token PROBE_TOKEN (POST /api/v1/probes)",
  )
  .option("--source-address <ip>", "connect from this local address (env AMENDS_PROBE_SOURCE_ADDRESS)")
  .action(async (o: { sourceAddress?: string }) => {
    const g = globals();
    const url = g.url ?? process.env.AMENDS_URL;
    const token = g.token ?? process.env.AMENDS_PROBE_TOKEN ?? process.env.AMENDS_TOKEN;
    if (!url || !token) throw new CliError("error: a probe needs --url SERVER and --token PROBE_TOKEN");
    const { runProbe } = await import("../monitors/probe.ts");
    const probe = await runProbe({
      url,
      token,
      sourceAddress: o.sourceAddress ?? process.env.AMENDS_PROBE_SOURCE_ADDRESS,
      refreshMs: Number(process.env.AMENDS_PROBE_REFRESH_MS ?? 15_000),
      flushMs: Number(process.env.AMENDS_PROBE_FLUSH_MS ?? 1_000),
      log: (line) => console.log(line),
    });
    console.log("Press Ctrl+C to stop.");
    const stop = async () => {
      await probe.stop();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });

program.parseAsync().catch((err: unknown) => {
  const message = err instanceof CliError ? err.message : `error: ${(err as Error).message ?? err}`;
  console.error(message);
  process.exitCode = 1;
});
