/**
 * `amends`: run the server, manage the database, and drive the API from a terminal.
 * Human output by default; `--json` prints what the API returned, for scripts.
 *
 * This file only defines the commands and their options: each command's handler lives in
 * commands/<group>.ts and is imported when the command runs, so `--help` loads commander alone
 * and a command sent to a running server never loads the server or the database.
 */
import { Command, Option } from "commander";
import type { GlobalOptions } from "./context.ts";

const program = new Command("amends")
  .description("Status page, notifications and automatic compensation for outages")
  .option("--json", "print JSON instead of text")
  .option("--data-dir <dir>", "embedded database directory (env AMENDS_DATA_DIR, default ./data)")
  .option("--database-url <url>", "PostgreSQL URL (env DATABASE_URL); the embedded database when absent")
  .option("--url <url>", "talk to the Amends server at this URL (env AMENDS_URL)")
  .option("--token <token>", "API token for --url (env AMENDS_TOKEN)")
  .option("--workspace <slug>", "workspace, when there are several (env AMENDS_WORKSPACE)");

// biome-ignore lint/suspicious/noExplicitAny: commander passes the arguments, options and the command
type Handler = (...args: any[]) => Promise<void>;

/** A command's action: imports its group's module when the command runs, then calls the handler. */
function run<M>(load: () => Promise<M>, name: { [K in keyof M]: M[K] extends Handler ? K : never }[keyof M]) {
  return async (...args: unknown[]) => {
    const [context, module] = await Promise.all([import("./context.ts"), load()]);
    context.setGlobals(program.opts<GlobalOptions>());
    await (module[name] as Handler)(...args);
  };
}

const server = () => import("./commands/server.ts");
const database = () => import("./commands/database.ts");
const tokens = () => import("./commands/tokens.ts");
const components = () => import("./commands/components.ts");
const incidents = () => import("./commands/incidents.ts");
const companyData = () => import("./commands/company-data.ts");
const policies = () => import("./commands/policies.ts");
const compensation = () => import("./commands/compensation.ts");
const notifications = () => import("./commands/notifications.ts");
const statusPage = () => import("./commands/status-page.ts");
const protocols = () => import("./commands/protocols.ts");
const monitors = () => import("./commands/monitors.ts");

program
  .command("serve")
  .description("run the HTTP server (status page, API); migrates the database first")
  .option("-p, --port <port>", "port (env PORT, default 3000)")
  .option("--host <host>", "interface (env HOST, default 127.0.0.1)")
  .option("--demo", "load the demo workspace when the database is empty")
  .action(run(server, "serve"));

program
  .command("worker")
  .description(
    "deliver notifications and check monitors (PostgreSQL: run as many as you like beside servers started with AMENDS_NOTIFY=off, AMENDS_MONITORS=off)",
  )
  .option("--workers <n>", "send jobs at once in this process", "2")
  .option(
    "--metrics-port <port>",
    "serve this process's Prometheus metrics at http://HOST:PORT/metrics (env AMENDS_METRICS_PORT)",
  )
  .action(run(server, "worker"));

program.command("migrate").description("apply database migrations and exit").action(run(database, "migrate"));

program
  .command("demo")
  .description("load the demo workspace (The Fleet, a car-sharing company)")
  .action(run(database, "demo"));

const workspace = program.command("workspace").description("workspaces (one per company)");
workspace
  .command("create")
  .requiredOption("--name <name>", "company name shown on the page")
  .requiredOption("--slug <slug>", "short identifier, e.g. acme")
  .option("--time-zone <tz>", "IANA time zone for the page", "UTC")
  .action(run(database, "createWorkspaceCommand"));

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
  .action(run(tokens, "create"));
token.command("list").action(run(tokens, "list"));
token.command("revoke <id>").action(run(tokens, "revoke"));

const component = program.command("component").description("components of the status page");
component
  .command("list")
  .description("the component tree with effective statuses")
  .action(run(components, "list"));
component
  .command("create")
  .requiredOption("--name <name>")
  .option("--id <id>", "your own id, e.g. end-rental-milan")
  .option("--parent <id>", "parent component")
  .option("--region <region>", "city, region or site")
  .action(run(components, "create"));

const statusOption = () =>
  new Option("--status <status>", "investigating | identified | monitoring").choices([
    "investigating",
    "identified",
    "monitoring",
    "resolved",
  ]);

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
  .action(run(incidents, "open"));
incident
  .command("update <id>")
  .description("post an update to an incident's timeline")
  .requiredOption("--body <text>")
  .addOption(statusOption())
  .option("-c, --component <id=status...>", "components whose status changes")
  .option("--eta <when>", "expected fix: 2h, 30m, or an ISO date-time")
  .option("--next-update <when>", "promise the next update by")
  .action(run(incidents, "update"));
incident
  .command("resolve <id>")
  .description("resolve an incident; its components return to operational")
  .option("--body <text>", "closing message")
  .action(run(incidents, "resolve"));
incident
  .command("report <id>")
  .description(
    "the letter after a resolved incident: draft it, write a section (--what-we-change), publish and send it",
  )
  .option("--draft", "draft it (again) from the timeline and the figures")
  .option("--what-we-change <text>", "what you change so it does not happen again")
  .option("--publish", "publish it on its page and send it to the affected customers")
  .action(run(incidents, "report"));
incident
  .command("list")
  .addOption(new Option("--state <state>").choices(["open", "resolved", "all"]).default("all"))
  .action(run(incidents, "list"));
incident.command("show <id>").action(run(incidents, "show"));

program
  .command("import <kind> <file>")
  .description(
    "upsert customers, sessions or charges from CSV (.csv), NDJSON (.ndjson/.jsonl) or JSON (.json); a bad row writes nothing",
  )
  .action(run(companyData, "importFile"));

const policy = program.command("policy").description("compensation policies (YAML, versioned)");
policy
  .command("put <file>")
  .description("save a policy; changed text makes a new version")
  .action(run(policies, "put"));
policy.command("list").action(run(policies, "list"));
policy.command("show <id>").option("--version <n>").action(run(policies, "show"));
policy
  .command("schema")
  .description("print the policy language's JSON Schema (for editors)")
  .action(run(policies, "schema"));

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
  .action(run(compensation, "preview"));
comp
  .command("show <run>")
  .option("--lines", "list every action, exclusion and review item")
  .action(run(compensation, "show"));
comp.command("approve <run>").action(run(compensation, "approve"));
comp
  .command("apply <run>")
  .description("book an approved run in the ledger, exactly once, and queue each customer's message")
  .action(run(compensation, "apply"));
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
  .action(run(compensation, "exportRun"));
comp
  .command("report <run>")
  .description("the run's report as an HTML page with charts by city and by rule")
  .option("--out <file>", "write the page here (default: stdout)")
  .action(run(compensation, "report"));

const notify = program
  .command("notifications")
  .alias("notify")
  .description("who hears about incidents: estimates, events, progress");
notify
  .command("estimate")
  .description("before opening an incident: recipients per channel and the SMS cost")
  .option("-c, --component <id...>", "components that would fail")
  .action(run(notifications, "estimate"));
notify.command("events").action(run(notifications, "events"));
notify.command("confirm <event>").action(run(notifications, "confirm"));
notify
  .command("watch <event>")
  .description("follow a fan-out until every message is sent, failed or held")
  .action(run(notifications, "watch"));

program
  .command("export-static [dir]")
  .description("write the whole public page (HTML in every language, JSON, feeds, badge) as static files")
  .option(
    "--s3 <url>",
    "also (or only) upload it to an S3-compatible bucket, path-style: https://host/bucket[/prefix] (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AMENDS_S3_REGION)",
  )
  .action(run(statusPage, "exportStaticCommand"));

const protocol = program
  .command("protocol")
  .description("emergency protocols: prepared incidents started in one action");
protocol.command("list").action(run(protocols, "list"));
protocol
  .command("start <name>")
  .description("open the incident and send every message at once; shows the SMS cost first")
  .option("--dry-run", "only show who it would reach and what the SMS would cost")
  .option("-y, --yes", "do not ask before sending paid SMS")
  .option("--eta <when>", "when the fix is expected: 90m, 2h, or 2026-12-04T18:00+01:00")
  .action(run(protocols, "start"));

const monitor = program.command("monitor").description("monitors on components");
monitor.command("list").action(run(monitors, "list"));
monitor
  .command("results <id>")
  .option("--resolution <r>", "raw, hour or day", "raw")
  .action(run(monitors, "results"));

program
  .command("probe")
  .description(
    "check this workspace's monitors from here (another region): --url SERVER --token PROBE_TOKEN (POST /api/v1/probes)",
  )
  .option("--source-address <ip>", "connect from this local address (env AMENDS_PROBE_SOURCE_ADDRESS)")
  .action(run(monitors, "probe"));

program.parseAsync().catch(async (err: unknown) => {
  const { CliError } = await import("./context.ts");
  const message = err instanceof CliError ? err.message : `error: ${(err as Error).message ?? err}`;
  console.error(message);
  process.exitCode = 1;
});
