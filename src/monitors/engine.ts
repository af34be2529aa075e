/**
 * The monitor engine: runs the checks due in this process (on the scheduler), stores results
 * in batches, and turns confirmed failures and recoveries into the monitor's automatic steps.
 *
 *   check ─▶ result buffer ─flush─▶ monitor_results ─▶ evaluate (results of every location)
 *   evaluate ─▶ core step (confirmation rule, quorum of locations, quiet recovery, flap damping)
 *   down ─▶ open an incident (or start the monitor's protocol) | alert the team | set the status
 *   recovered ─▶ resolve that incident | tell the team | set the status back
 *
 * On PostgreSQL every server schedules every monitor; a claim on (monitor, location, slot)
 * lets one process check each slot. Evaluation locks the monitor's row, so a confirmed failure
 * reported by two processes at once acts once.
 */
import { and, eq } from "drizzle-orm";
import { judgeRecovering } from "../alerts/receive.ts";
import { recordAudit } from "../audit/store.ts";
import type { ComponentStatus } from "../core/components.ts";
import {
  combineVerdicts,
  type DampingOptions,
  DEFAULT_DAMPING,
  heartbeatFailure,
  locationVerdict,
  ruleWindow,
  type Step,
  step,
} from "../core/monitors.ts";
import { countSkippedCheck, observeMonitorCheck } from "../lib/metrics.ts";
import { signalOutcome } from "../signals/check.ts";
import type { Database } from "../storage/database.ts";
import { monitors } from "../storage/schema.ts";
import {
  type AutomationOptions,
  announced,
  onDown,
  onRecovered,
  startsProtocol,
  startWatcherProtocol,
  type Watcher,
} from "./automation.ts";
import { type CheckOutcome, runCheck } from "./checks.ts";
import { Scheduler } from "./scheduler.ts";
import {
  activeMonitors,
  claimSlots,
  compactResults,
  getMonitor,
  type Monitor,
  type ResultRow,
  recentResults,
  recordResults,
} from "./store.ts";

/** NOTIFY channel: a monitor was created, changed or deleted; schedulers reload at once. */
export const MONITORS_CHANNEL = "amends_monitors";

export type { AutomationOptions } from "./automation.ts";

export const defaultLocation = () => process.env.AMENDS_LOCATION ?? "local";

const failedStatus = (m: Monitor) => (m.assertions.componentStatus as ComponentStatus) ?? "major_outage";

async function lastError(database: Database, m: Monitor): Promise<string> {
  const [row] = await database.query<{ error: string | null; location: string }>(
    `select error, location from monitor_results where workspace_id = $1 and monitor_id = $2 and not ok
      order by at desc limit 1`,
    [m.workspaceId, m.id],
  );
  return row ? `${row.error ?? "failed"} (from ${row.location})` : "failed";
}

/**
 * Judges a monitor from the latest results of every location and takes the automatic step,
 * if any. Safe to call from any process at any time; returns what happened.
 */
export async function evaluateMonitor(
  database: Database,
  ws: string,
  id: string,
  o: AutomationOptions,
): Promise<Step["event"]> {
  const now = o.now();
  const seen = await getMonitor(database.db, ws, id).catch(() => undefined);
  if (!seen || seen.state === "paused") return "none";
  const windowMs = (ruleWindow(seen.confirm) + 2) * seen.intervalSeconds * 1000 + 60_000;
  const history = await recentResults(database, ws, id, new Date(now.getTime() - windowMs));
  const verdict = combineVerdicts(
    [...history.values()].map((h) => locationVerdict(h, seen.confirm)),
    seen.minLocations,
  );
  if (verdict === "unknown" && seen.state !== "down") return "none";
  // Read before the transaction: on PGlite a query outside an open transaction waits for it.
  const detail = verdict === "down" ? await lastError(database, seen) : "";
  const { m, event } = await database.transaction(async (tx) => {
    const m = await getMonitor(tx.db, ws, id, true);
    const result = step(
      {
        state: m.state,
        recoveringSince: m.recoveringSince?.getTime() ?? null,
        transitions: m.transitions,
      },
      verdict,
      now.getTime(),
      o.damping,
    );
    const n = result.next;
    if (
      n.state !== m.state ||
      (n.recoveringSince ?? null) !== (m.recoveringSince?.getTime() ?? null) ||
      n.transitions.length !== m.transitions.length
    )
      await tx.db
        .update(monitors)
        .set({
          state: n.state,
          recoveringSince: n.recoveringSince === null ? null : new Date(n.recoveringSince),
          transitions: n.transitions,
          ...(n.state !== m.state && { stateChangedAt: now }),
        })
        .where(and(eq(monitors.workspaceId, ws), eq(monitors.id, id)));
    // The step and what it does commit together: a crash in between repeats neither half alone.
    await recordOutage(tx, m, result.event, now);
    if (result.event !== "none")
      await recordAudit(tx.db, {
        workspaceId: ws,
        at: now,
        actor: { kind: "monitor", id: m.id, name: m.name },
        action: `monitor.${result.event}`,
        target: { type: "monitor", id: m.id },
        before: { state: m.state },
        after: { state: n.state, onFailure: m.onFailure, detail: detail || undefined },
      });
    if (result.event === "down" && !startsProtocol(m))
      await onDown(tx, watcher(m), o, detail, `Monitor "${m.name}" confirmed a failure: ${detail}.`);
    if (result.event === "recovered")
      await onRecovered(
        tx,
        watcher(m),
        o,
        `Monitor "${m.name}" has passed its checks again for ${Math.round(o.damping.recoveryQuietMs / 1000)} s; resolved automatically.`,
      );
    return { m, event: result.event };
  });
  // A protocol works out its SMS estimate first, on its own connection: after the commit.
  if (event === "down" && startsProtocol(m)) await startWatcherProtocol(database, watcher(m), o);
  if (event !== "none") await announced(database, ws);
  return event;
}

/** What the uptime bars count: a confirmed failure, from confirmation to recovery. */
async function recordOutage(tx: Database, m: Monitor, event: Step["event"], now: Date) {
  if (event === "down")
    await tx.query(
      `insert into monitor_outages (workspace_id, monitor_id, started_at, component_ids, status)
       values ($1, $2, $3, $4::text[], $5) on conflict do nothing`,
      [m.workspaceId, m.id, now.toISOString(), m.componentIds, failedStatus(m)],
    );
  if (event === "recovered")
    await tx.query(
      `update monitor_outages set ended_at = $3
        where workspace_id = $1 and monitor_id = $2 and ended_at is null`,
      [m.workspaceId, m.id, now.toISOString()],
    );
}

/** The monitor as the automatic steps see it. */
const watcher = (m: Monitor): Watcher => ({
  workspaceId: m.workspaceId,
  by: `monitor:${m.id}`,
  name: m.name,
  onFailure: m.onFailure,
  protocol: m.protocol,
  components: m.componentIds.map((componentId) => ({ componentId, status: failedStatus(m) })),
  incidentId: m.incidentId,
  setIncident: async (database, incidentId) => {
    await database.db
      .update(monitors)
      .set({ incidentId })
      .where(and(eq(monitors.workspaceId, m.workspaceId), eq(monitors.id, m.id)));
  },
});

/** A heartbeat monitor's check: the silence since the last heartbeat, judged from the database. */
export async function heartbeatOutcome(database: Database, m: Monitor, now: Date): Promise<CheckOutcome> {
  const fresh = await getMonitor(database.db, m.workspaceId, m.id);
  const graceMs =
    typeof m.assertions.graceSeconds === "number"
      ? m.assertions.graceSeconds * 1000
      : Math.max(5_000, m.intervalSeconds * 100);
  const error = heartbeatFailure(
    fresh.lastHeartbeatAt,
    fresh.createdAt,
    now,
    m.intervalSeconds * 1000,
    graceMs,
  );
  return error ? { ok: false, latencyMs: null, error } : { ok: true, latencyMs: null };
}

export interface EngineOptions extends Partial<AutomationOptions> {
  /** this process's location name (env AMENDS_LOCATION, default "local") */
  location?: string;
  /** how often buffered results are written and judged (ms) */
  flushMs?: number;
  /** how often the monitor list is reloaded besides NOTIFY (ms) */
  refreshMs?: number;
  /** how often alert integrations waiting out a quiet period are judged (ms) */
  alertsTickMs?: number;
  /** claim each slot in the database first (default: on PostgreSQL, where several servers may run) */
  claim?: boolean;
}

export interface MonitorEngine {
  scheduler: Scheduler;
  /** reloads the monitor list now */
  refresh(): Promise<void>;
  /** writes and judges buffered results now */
  flush(): Promise<void>;
  counts(): { checks: number; written: number; failures: number };
  stop(): Promise<void>;
}

export async function startMonitors(database: Database, options: EngineOptions = {}): Promise<MonitorEngine> {
  const auto: AutomationOptions = {
    now: options.now ?? (() => new Date()),
    damping: options.damping ?? DEFAULT_DAMPING,
    social: options.social ?? [],
  };
  const location = options.location ?? defaultLocation();
  const claim = options.claim ?? database.kind === "postgres";
  const cache = new Map<string, Monitor>();
  const scheduler = new Scheduler(
    () => auto.now().getTime(),
    Math.random,
    (key) => countSkippedCheck(cache.get(key)?.kind ?? "unknown"),
  );
  let buffer: ResultRow[] = [];
  let checks = 0;
  let written = 0;
  let failures = 0;
  let stopped = false;

  const run = async (key: string, slot: number) => {
    const m = cache.get(key);
    if (!m || stopped) return;
    if (claim) {
      const won = await claimSlots(database, [
        { workspaceId: m.workspaceId, monitorId: m.id, location, slot },
      ]);
      if (won.size === 0) return;
    }
    const start = performance.now();
    const outcome =
      m.kind === "heartbeat"
        ? await heartbeatOutcome(database, m, auto.now())
        : m.kind === "signal"
          ? await signalOutcome(database, m, auto.now())
          : await runCheck(m, auto.now);
    observeMonitorCheck(m.kind, outcome.ok, (performance.now() - start) / 1000);
    checks++;
    if (!outcome.ok) failures++;
    buffer.push({
      workspaceId: m.workspaceId,
      monitorId: m.id,
      at: auto.now(),
      location,
      ok: outcome.ok,
      latencyMs: outcome.latencyMs,
      error: outcome.error ?? null,
    });
  };

  // Reloading thousands of monitors costs a few hundred ms on PGlite (on this thread): only when
  // something changed (created, edited, deleted, or a state changed elsewhere).
  let fingerprint = "";
  const refreshIfChanged = async () => {
    const [row] = await database.query<{ f: string }>(
      `select count(*)::text || ':' || coalesce(max(updated_at)::text, '') || ':' || coalesce(max(state_changed_at)::text, '') as f
         from monitors`,
    );
    if (row?.f !== fingerprint) await refresh();
  };
  const refresh = async () => {
    const [row] = await database.query<{ f: string }>(
      `select count(*)::text || ':' || coalesce(max(updated_at)::text, '') || ':' || coalesce(max(state_changed_at)::text, '') as f
         from monitors`,
    );
    fingerprint = row?.f ?? "";
    const list = await activeMonitors(database.db);
    const keys = new Set<string>();
    for (const m of list) {
      const key = `${m.workspaceId}\u0000${m.id}`;
      keys.add(key);
      cache.set(key, m);
      scheduler.set({ key, intervalMs: m.intervalSeconds * 1000, run: (slot) => run(key, slot) });
    }
    for (const key of scheduler.keys())
      if (!keys.has(key)) {
        scheduler.remove(key);
        cache.delete(key);
      }
  };

  let flushing: Promise<void> = Promise.resolve();
  const flushNow = async () => {
    const rows = buffer;
    buffer = [];
    if (rows.length === 0) return;
    await recordResults(database, rows);
    written += rows.length;
    // Only a failure of a monitor not already down (and not recovering), or a pass of a monitor
    // not known to be up, can change anything: a long outage of many monitors costs no evaluations.
    const judge = new Set<string>();
    for (const r of rows) {
      const key = `${r.workspaceId}\u0000${r.monitorId}`;
      const m = cache.get(key);
      const settledDown = m?.state === "down" && m.recoveringSince === null;
      if (r.ok ? m?.state !== "up" : !settledDown) judge.add(key);
    }
    for (const key of judge) {
      const [ws, id] = key.split("\u0000") as [string, string];
      await evaluateMonitor(database, ws, id, auto).catch(() => {});
      const fresh = await getMonitor(database.db, ws, id).catch(() => undefined);
      if (fresh && cache.has(key)) cache.set(key, fresh);
    }
  };
  const flush = () => {
    flushing = flushing.then(flushNow, flushNow).catch(() => {});
    return flushing;
  };

  await refresh();
  const flushTimer = setInterval(() => void flush(), options.flushMs ?? 1_000);
  const refreshTimer = setInterval(() => void refreshIfChanged().catch(() => {}), options.refreshMs ?? 5_000);
  // Raw results older than 7 days become rollups; the transaction makes concurrent runs harmless.
  // Alert integrations whose alerts all resolved: their quiet period ends on this tick.
  const alertsTimer = setInterval(
    () => void judgeRecovering(database, auto).catch(() => {}),
    options.alertsTickMs ?? 5_000,
  );
  const compactTimer = setInterval(
    () => void compactResults(database, auto.now()).catch(() => {}),
    3_600_000,
  );
  for (const t of [flushTimer, refreshTimer, alertsTimer, compactTimer]) t.unref();
  const stopListening = await database.listen(MONITORS_CHANNEL, () => void refresh().catch(() => {}));

  return {
    scheduler,
    refresh,
    flush,
    counts: () => ({ checks, written, failures }),
    async stop() {
      stopped = true;
      scheduler.stop();
      clearInterval(flushTimer);
      clearInterval(refreshTimer);
      clearInterval(compactTimer);
      clearInterval(alertsTimer);
      await stopListening();
      await flush();
    },
  };
}
