/**
 * What this process did, as Prometheus counters and histograms: deliveries, the first message of
 * each event, monitor checks, compensation previews and applies, status-page snapshot rebuilds.
 * The metric objects live here, once per process; the code that does the work calls the small
 * functions below, and each HTTP server registers the objects on its own registry
 * (http/metrics.ts). Every process is scraped on its own, the Prometheus way; several servers
 * in one process (tests) share these counts.
 *
 * Label values are bounded by the code (channels, providers, outcomes, kinds): never ids,
 * addresses, workspaces or URLs.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Histogram, type Metric, Registry } from "prom-client";

const deliveries = new Counter({
  name: "amends_notification_deliveries_total",
  help: "Messages by channel, provider and outcome: sent (the provider took it), retry (a transient error: the next provider or a later attempt takes it), failed, suppressed (a bad address); provider none for outcomes decided without one (not for this audience, no provider configured, an invalid number, given up after the last retry)",
  labelNames: ["channel", "provider", "outcome"],
  registers: [],
});

const firstMessage = new Histogram({
  name: "amends_notification_first_message_seconds",
  help: "From an event's creation (an incident published, a notice queued) to the first of its messages this process handed to a provider; messages held for quiet hours or a digest are not counted",
  labelNames: ["event"],
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  registers: [],
});

const monitorChecks = new Counter({
  name: "amends_monitor_checks_total",
  help: "Monitor checks run by this process, by kind and outcome (ok, failed)",
  labelNames: ["kind", "outcome"],
  registers: [],
});

const monitorCheckDuration = new Histogram({
  name: "amends_monitor_check_duration_seconds",
  help: "How long a monitor check took, retries and timeouts included (heartbeats: judging the silence from the database)",
  labelNames: ["kind", "outcome"],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [],
});

const monitorChecksSkipped = new Counter({
  name: "amends_monitor_checks_skipped_total",
  help: "Monitor checks not run because the monitor's previous check was still running when its next slot came",
  labelNames: ["kind"],
  registers: [],
});

const compensationDuration = new Histogram({
  name: "amends_compensation_duration_seconds",
  help: "Compensation previews and applies, by stage (preview, apply) and outcome (ok, error)",
  labelNames: ["stage", "outcome"],
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
  registers: [],
});

const compensationLines = new Counter({
  name: "amends_compensation_lines_total",
  help: "Compensation lines: written by previews (stage preview), booked in the ledger by applies (stage apply)",
  labelNames: ["stage"],
  registers: [],
});

const snapshotRebuilds = new Counter({
  name: "amends_status_page_snapshot_rebuilds_total",
  help: "Rebuilds of the public page's in-memory snapshots, by snapshot (page: a page's state; pages: the list of pages) and outcome (ok; failed: the last snapshot is served, marked stale)",
  labelNames: ["snapshot", "outcome"],
  registers: [],
});

const snapshotRebuildDuration = new Histogram({
  name: "amends_status_page_snapshot_rebuild_duration_seconds",
  help: "How long a snapshot rebuild read the database",
  labelNames: ["snapshot"],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [],
});

const ALL: Metric[] = [
  deliveries,
  firstMessage,
  monitorChecks,
  monitorCheckDuration,
  monitorChecksSkipped,
  compensationDuration,
  compensationLines,
  snapshotRebuilds,
  snapshotRebuildDuration,
];

/** A registry with Node's default metrics and this process's instruments; servers add their own. */
export function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters (promtool refuses them); nodejs_active_handles etc., by type, say the same.
  for (const name of ["handles", "requests", "resources"])
    registry.removeSingleMetric(`nodejs_active_${name}_total`);
  for (const metric of ALL) registry.registerMetric(metric);
  return registry;
}

/**
 * `amends worker` has no HTTP server of its own: this answers GET /metrics with its counts
 * (deliveries, first messages, monitor checks) and nothing else, for Prometheus to scrape.
 */
export async function serveProcessMetrics(port: number, host: string) {
  const registry = processRegistry();
  const server = createServer(async (req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: GET /metrics\n");
      return;
    }
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type DeliveryOutcome = "sent" | "retry" | "failed" | "suppressed";

export function countDelivery(channel: string, provider: string, outcome: DeliveryOutcome): void {
  deliveries.inc({ channel, provider, outcome });
}

/** The families of events that send messages; anything else is counted as "other". */
const EVENT_FAMILIES = new Set([
  "incident",
  "maintenance",
  "monitor",
  "compensation",
  "postmortem",
  "protocol",
  "report",
  "reports",
  "notifications",
  "subscription",
]);
/** Events whose first message this process has seen, oldest first; bounded, a Map keeps insertion order. */
const firstSeen = new Map<string, true>();
const FIRST_SEEN_MAX = 10_000;

/**
 * Called for every message a provider took straight from its send job: observes the time since
 * the event was created for the first such message of the event in this process.
 */
export function observeMessageSent(eventKey: string, event: string, createdAt: Date, now: Date): void {
  if (firstSeen.has(eventKey)) return;
  firstSeen.set(eventKey, true);
  if (firstSeen.size > FIRST_SEEN_MAX) firstSeen.delete(firstSeen.keys().next().value!);
  const family = event.split(".")[0]!;
  firstMessage.observe(
    { event: EVENT_FAMILIES.has(family) ? family : "other" },
    Math.max(0, (now.getTime() - createdAt.getTime()) / 1000),
  );
}

export function observeMonitorCheck(kind: string, ok: boolean, seconds: number): void {
  const outcome = ok ? "ok" : "failed";
  monitorChecks.inc({ kind, outcome });
  monitorCheckDuration.observe({ kind, outcome }, seconds);
}

export function countSkippedCheck(kind: string): void {
  monitorChecksSkipped.inc({ kind });
}

/** Runs a compensation stage, timing it in wall time (performance.now), whatever clock the caller is given. */
export async function timeCompensation<T>(stage: CompensationStage, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  let outcome = "error";
  try {
    const result = await work();
    outcome = "ok";
    return result;
  } finally {
    compensationDuration.observe({ stage, outcome }, (performance.now() - start) / 1000);
  }
}

export type CompensationStage = "preview" | "apply";

export function countCompensationLines(stage: CompensationStage, lines: number): void {
  compensationLines.inc({ stage }, lines);
}

export type SnapshotName = "page" | "pages";

export function observeSnapshotRebuild(snapshot: SnapshotName, ok: boolean, seconds: number): void {
  snapshotRebuilds.inc({ snapshot, outcome: ok ? "ok" : "failed" });
  snapshotRebuildDuration.observe({ snapshot }, seconds);
}
