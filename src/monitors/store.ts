/**
 * Monitors, their results and rollups, and the probes that report from elsewhere.
 * Results are written in batches with `unnest` arrays (thousands of checks a minute);
 * raw rows are kept 7 days and then folded into hourly and daily rollups.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, asc, eq } from "drizzle-orm";
import { requireComponents } from "../components/store.ts";
import { conflict, notFound } from "../core/errors.ts";
import type { ConfirmRule, MonitorKind, MonitorState, OnFailure } from "../core/monitors.ts";
import { newId } from "../lib/ids.ts";
import { requireProtocol } from "../protocols/store.ts";
import type { Database, Db } from "../storage/database.ts";
import { monitorClaims, monitorResults, monitorRollups, monitors, probes } from "../storage/schema.ts";

export type MonitorRow = typeof monitors.$inferSelect;

export interface Monitor {
  id: string;
  workspaceId: string;
  name: string;
  kind: MonitorKind;
  target: string;
  componentIds: string[];
  intervalSeconds: number;
  timeoutMs: number;
  retries: number;
  confirm: ConfirmRule;
  minLocations: number;
  assertions: Record<string, unknown>;
  onFailure: OnFailure;
  protocol: string | null;
  state: MonitorState;
  stateChangedAt: Date | null;
  recoveringSince: Date | null;
  transitions: number[];
  incidentId: string | null;
  heartbeatToken: string | null;
  lastHeartbeatAt: Date | null;
  lastCheckAt: Date | null;
  lastLatencyMs: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export const toMonitor = (r: MonitorRow): Monitor => ({
  ...r,
  kind: r.kind as MonitorKind,
  confirm: r.confirm as ConfirmRule,
  onFailure: r.onFailure as OnFailure,
  state: r.state as MonitorState,
});

export interface MonitorInput {
  id?: string;
  name: string;
  kind: MonitorKind;
  target: string;
  componentIds: string[];
  intervalSeconds: number;
  timeoutMs: number;
  retries: number;
  confirm: ConfirmRule;
  minLocations: number;
  assertions: Record<string, unknown>;
  onFailure: OnFailure;
  protocol?: string | null;
  paused?: boolean;
}

async function checkReferences(db: Db, ws: string, input: Partial<MonitorInput>) {
  await requireComponents(db, ws, input.componentIds ?? [], (i) => `componentIds.${i}`);
  if (input.protocol) await requireProtocol(db, ws, input.protocol);
}

export async function createMonitor(db: Db, ws: string, input: MonitorInput, now: Date): Promise<Monitor> {
  return db.transaction(async (tx) => {
    await checkReferences(tx, ws, input);
    const id = input.id ?? newId("mon");
    const [existing] = await tx
      .select({ id: monitors.id })
      .from(monitors)
      .where(and(eq(monitors.workspaceId, ws), eq(monitors.id, id)));
    if (existing) throw conflict(`id: a monitor "${id}" already exists`, "id");
    const [row] = await tx
      .insert(monitors)
      .values({
        workspaceId: ws,
        id,
        name: input.name,
        kind: input.kind,
        target: input.target,
        componentIds: input.componentIds,
        intervalSeconds: input.intervalSeconds,
        timeoutMs: input.timeoutMs,
        retries: input.retries,
        confirm: input.confirm,
        minLocations: input.minLocations,
        assertions: input.assertions,
        onFailure: input.onFailure,
        protocol: input.protocol ?? null,
        state: input.paused ? "paused" : "pending",
        heartbeatToken: input.kind === "heartbeat" ? `hb_${randomBytes(24).toString("base64url")}` : null,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    return toMonitor(row!);
  });
}

export async function getMonitor(db: Db, ws: string, id: string, lock = false): Promise<Monitor> {
  const q = db
    .select()
    .from(monitors)
    .where(and(eq(monitors.workspaceId, ws), eq(monitors.id, id)));
  const [row] = lock ? await q.for("update") : await q;
  if (!row) throw notFound("monitor", id);
  return toMonitor(row);
}

export async function listMonitors(db: Db, ws: string): Promise<Monitor[]> {
  const rows = await db
    .select()
    .from(monitors)
    .where(eq(monitors.workspaceId, ws))
    .orderBy(asc(monitors.createdAt), asc(monitors.id));
  return rows.map(toMonitor);
}

/** Every monitor that is not paused, across workspaces: what a scheduler runs. */
export async function activeMonitors(db: Db, ws?: string): Promise<Monitor[]> {
  const rows = await db
    .select()
    .from(monitors)
    .where(ws ? eq(monitors.workspaceId, ws) : undefined);
  return rows.map(toMonitor).filter((m) => m.state !== "paused");
}

export async function updateMonitor(
  db: Db,
  ws: string,
  id: string,
  patch: Partial<Omit<MonitorInput, "id" | "kind">>,
  now: Date,
): Promise<Monitor> {
  return db.transaction(async (tx) => {
    const before = await getMonitor(tx, ws, id, true);
    await checkReferences(tx, ws, patch);
    const { paused, ...fields } = patch;
    const state =
      paused === true ? "paused" : paused === false && before.state === "paused" ? "pending" : undefined;
    const [row] = await tx
      .update(monitors)
      .set({ ...fields, ...(state && { state, stateChangedAt: now, recoveringSince: null }), updatedAt: now })
      .where(and(eq(monitors.workspaceId, ws), eq(monitors.id, id)))
      .returning();
    return toMonitor(row!);
  });
}

export async function deleteMonitor(db: Db, ws: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    await getMonitor(tx, ws, id, true);
    const mine = (t: typeof monitorResults | typeof monitorRollups | typeof monitorClaims) =>
      and(eq(t.workspaceId, ws), eq(t.monitorId, id));
    await tx.delete(monitorResults).where(mine(monitorResults));
    await tx.delete(monitorRollups).where(mine(monitorRollups));
    await tx.delete(monitorClaims).where(mine(monitorClaims));
    await tx.delete(monitors).where(and(eq(monitors.workspaceId, ws), eq(monitors.id, id)));
  });
}

// ---- Results ---------------------------------------------------------------------------------

export interface ResultRow {
  workspaceId: string;
  monitorId: string;
  at: Date;
  location: string;
  ok: boolean;
  latencyMs: number | null;
  error?: string | null;
}

/** Appends a batch of results and moves each monitor's last check forward, in two statements. */
export async function recordResults(database: Database, rows: readonly ResultRow[]): Promise<void> {
  if (rows.length === 0) return;
  await database.query(
    `insert into monitor_results (workspace_id, monitor_id, at, location, ok, latency_ms, error)
     select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::boolean[], $6::int[], $7::text[])`,
    [
      rows.map((r) => r.workspaceId),
      rows.map((r) => r.monitorId),
      rows.map((r) => r.at.toISOString()),
      rows.map((r) => r.location),
      rows.map((r) => r.ok),
      rows.map((r) => r.latencyMs),
      rows.map((r) => r.error?.slice(0, 500) ?? null),
    ],
  );
  // The latest result per monitor in this batch.
  const latest = new Map<string, ResultRow>();
  for (const r of rows) {
    const key = `${r.workspaceId}\u0000${r.monitorId}`;
    const seen = latest.get(key);
    if (!seen || seen.at <= r.at) latest.set(key, r);
  }
  const last = [...latest.values()];
  await database.query(
    `update monitors m set last_check_at = u.at, last_latency_ms = u.latency
       from unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[]) as u(ws, id, at, latency)
      where m.workspace_id = u.ws and m.id = u.id and (m.last_check_at is null or m.last_check_at <= u.at)`,
    [
      last.map((r) => r.workspaceId),
      last.map((r) => r.monitorId),
      last.map((r) => r.at.toISOString()),
      last.map((r) => r.latencyMs),
    ],
  );
}

/** Each location's latest results since `since`, oldest first. */
export async function recentResults(
  database: Database,
  ws: string,
  monitorId: string,
  since: Date,
): Promise<Map<string, boolean[]>> {
  const rows = await database.query<{ location: string; ok: boolean }>(
    `select location, ok from monitor_results
      where workspace_id = $1 and monitor_id = $2 and at >= $3 order by at, location`,
    [ws, monitorId, since.toISOString()],
  );
  const byLocation = new Map<string, boolean[]>();
  for (const r of rows) byLocation.set(r.location, [...(byLocation.get(r.location) ?? []), r.ok]);
  return byLocation;
}

export interface RollupRow {
  at: Date;
  checks: number;
  failures: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

const bucketSql = (resolution: "hour" | "day") =>
  `select date_trunc('${resolution}', at, 'UTC') as at, count(*)::int as checks,
          (count(*) filter (where not ok))::int as failures,
          percentile_disc(0.5) within group (order by latency_ms) as p50,
          percentile_disc(0.95) within group (order by latency_ms) as p95
     from monitor_results
    where workspace_id = $1 and monitor_id = $2 and at >= $3 and at < $4
    group by 1`;

/** Hourly or daily figures over [from, to): stored rollups, and raw results folded on the fly. */
export async function rollups(
  database: Database,
  ws: string,
  monitorId: string,
  resolution: "hour" | "day",
  from: Date,
  to: Date,
): Promise<RollupRow[]> {
  const [fresh, stored] = await Promise.all([
    database.query<{ at: Date; checks: number; failures: number; p50: number | null; p95: number | null }>(
      bucketSql(resolution),
      [ws, monitorId, from.toISOString(), to.toISOString()],
    ),
    database.query<{ at: Date; checks: number; failures: number; p50: number | null; p95: number | null }>(
      `select at, checks, failures, latency_p50_ms as p50, latency_p95_ms as p95 from monitor_rollups
        where workspace_id = $1 and monitor_id = $2 and resolution = $3 and at >= $4 and at < $5`,
      [ws, monitorId, resolution, from.toISOString(), to.toISOString()],
    ),
  ]);
  const byAt = new Map<number, RollupRow>();
  for (const r of [...stored, ...fresh]) {
    const at = new Date(r.at);
    const prev = byAt.get(at.getTime());
    // A bucket straddling the compaction cut has both; counts add, percentiles keep the larger sample's.
    byAt.set(at.getTime(), {
      at,
      checks: (prev?.checks ?? 0) + r.checks,
      failures: (prev?.failures ?? 0) + r.failures,
      latencyP50Ms: prev && prev.checks > r.checks ? prev.latencyP50Ms : r.p50,
      latencyP95Ms: prev && prev.checks > r.checks ? prev.latencyP95Ms : r.p95,
    });
  }
  return [...byAt.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
}

export const RAW_RETENTION_DAYS = 7;

/**
 * Folds raw results older than 7 days (whole UTC days) into hourly and daily rollups and deletes
 * them, in one transaction, so a crash repeats the whole fold or none of it.
 */
export async function compactResults(database: Database, now: Date): Promise<number> {
  const cut = new Date(now.getTime() - RAW_RETENTION_DAYS * 86_400_000);
  cut.setUTCHours(0, 0, 0, 0);
  return database.transaction(async (tx) => {
    for (const resolution of ["hour", "day"] as const)
      await tx.query(
        `insert into monitor_rollups (workspace_id, monitor_id, resolution, at, checks, failures, latency_p50_ms, latency_p95_ms)
         select workspace_id, monitor_id, '${resolution}', date_trunc('${resolution}', at, 'UTC'), count(*),
                count(*) filter (where not ok),
                percentile_disc(0.5) within group (order by latency_ms),
                percentile_disc(0.95) within group (order by latency_ms)
           from monitor_results where at < $1 group by 1, 2, 4
         on conflict (workspace_id, monitor_id, resolution, at) do update
            set checks = monitor_rollups.checks + excluded.checks,
                failures = monitor_rollups.failures + excluded.failures`,
        [cut.toISOString()],
      );
    const deleted = await tx.query<{ n: number }>(
      `with d as (delete from monitor_results where at < $1 returning 1) select count(*)::int as n from d`,
      [cut.toISOString()],
    );
    // Claims only need to outlive their slot.
    await tx.query(`delete from monitor_claims where claimed_at < $1`, [
      new Date(now.getTime() - 3_600_000).toISOString(),
    ]);
    return deleted[0]?.n ?? 0;
  });
}

/**
 * Takes (monitor, location, slot) for this process; false when another process already did.
 * On PostgreSQL several servers schedule every monitor; only the first to claim a slot checks.
 */
export async function claimSlots(
  database: Database,
  claims: readonly { workspaceId: string; monitorId: string; location: string; slot: number }[],
): Promise<Set<string>> {
  if (claims.length === 0) return new Set();
  const rows = await database.query<{ ws: string; id: string; slot: string | number }>(
    `insert into monitor_claims (workspace_id, monitor_id, location, slot)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
     on conflict do nothing returning workspace_id as ws, monitor_id as id, slot`,
    [
      claims.map((c) => c.workspaceId),
      claims.map((c) => c.monitorId),
      claims.map((c) => c.location),
      claims.map((c) => c.slot),
    ],
  );
  return new Set(rows.map((r) => `${r.ws}\u0000${r.id}\u0000${Number(r.slot)}`));
}

// ---- Probes ----------------------------------------------------------------------------------

const hash = (secret: string) => createHash("sha256").update(secret).digest("hex");

export type Probe = Omit<typeof probes.$inferSelect, "tokenHash">;

export async function createProbe(
  db: Db,
  ws: string,
  input: { name: string; location: string },
  now: Date,
): Promise<{ probe: Probe; token: string }> {
  const token = `amp_${randomBytes(32).toString("base64url")}`;
  const [row] = await db
    .insert(probes)
    .values({ workspaceId: ws, id: newId("prb"), ...input, tokenHash: hash(token), createdAt: now })
    .returning();
  const { tokenHash: _, ...probe } = row!;
  return { probe, token };
}

export async function listProbes(db: Db, ws: string): Promise<Probe[]> {
  const rows = await db
    .select()
    .from(probes)
    .where(eq(probes.workspaceId, ws))
    .orderBy(asc(probes.createdAt));
  return rows.map(({ tokenHash: _, ...p }) => p);
}

export async function findProbe(db: Db, token: string, now: Date): Promise<Probe | undefined> {
  const [row] = await db
    .select()
    .from(probes)
    .where(eq(probes.tokenHash, hash(token)));
  if (!row) return undefined;
  await db.update(probes).set({ lastSeenAt: now }).where(eq(probes.id, row.id));
  const { tokenHash: _, ...probe } = row;
  return probe;
}

export async function findHeartbeatMonitor(db: Db, token: string): Promise<Monitor | undefined> {
  const [row] = await db.select().from(monitors).where(eq(monitors.heartbeatToken, token));
  return row ? toMonitor(row) : undefined;
}

export async function touchHeartbeat(db: Db, m: Monitor, at: Date): Promise<void> {
  await db
    .update(monitors)
    .set({ lastHeartbeatAt: at })
    .where(and(eq(monitors.workspaceId, m.workspaceId), eq(monitors.id, m.id)));
}
