/** Monitors: checks, their results and rollups, slot claims, outages, remote probes. */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts, watcherCondition } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

/** Synthetic checks on components: what to probe, how often, and when a failure counts. */
export const monitors = pgTable(
  "monitors",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    /** http | tcp | dns | tls | ping | heartbeat */
    kind: text("kind").notNull(),
    target: text("target").notNull(),
    componentIds: text("component_ids").array().notNull().default(sql`'{}'::text[]`),
    intervalSeconds: integer("interval_seconds").notNull(),
    timeoutMs: integer("timeout_ms").notNull(),
    retries: integer("retries").notNull().default(0),
    /** {consecutive: N} or {of: {m, k}}: see core/monitors.ts */
    confirm: jsonb("confirm").notNull().$type<Record<string, unknown>>(),
    minLocations: integer("min_locations").notNull().default(1),
    assertions: jsonb("assertions").notNull().default({}).$type<Record<string, unknown>>(),
    /** open_incident | alert_team | status_only */
    onFailure: text("on_failure").notNull(),
    protocol: text("protocol"),
    /** state, recovery, flaps and the incident it opened */
    ...watcherCondition(),
    /** heartbeat monitors: the secret in /hooks/heartbeat/{token} */
    heartbeatToken: text("heartbeat_token").unique(),
    lastHeartbeatAt: ts("last_heartbeat_at"),
    lastCheckAt: ts("last_check_at"),
    lastLatencyMs: integer("last_latency_ms"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Raw check results, kept 7 days; older ones live on as hourly and daily rollups. */
export const monitorResults = pgTable(
  "monitor_results",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    at: ts("at").notNull(),
    location: text("location").notNull(),
    ok: boolean("ok").notNull(),
    latencyMs: integer("latency_ms"),
    error: text("error"),
  },
  (t) => [index("monitor_results_monitor_at").on(t.workspaceId, t.monitorId, t.at)],
);

export const monitorRollups = pgTable(
  "monitor_rollups",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    /** hour | day */
    resolution: text("resolution").notNull(),
    at: ts("at").notNull(),
    checks: integer("checks").notNull(),
    failures: integer("failures").notNull(),
    latencyP50Ms: integer("latency_p50_ms"),
    latencyP95Ms: integer("latency_p95_ms"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.monitorId, t.resolution, t.at] })],
);

/**
 * One row per (monitor, location, interval slot) taken: several server processes on one
 * PostgreSQL each schedule every monitor, and the first to insert the slot runs the check.
 */
export const monitorClaims = pgTable(
  "monitor_claims",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    location: text("location").notNull(),
    slot: bigint("slot", { mode: "number" }).notNull(),
    claimedAt: ts("claimed_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.monitorId, t.location, t.slot] })],
);

/**
 * What monitors measured: each confirmed failure from confirmation to recovery, on the
 * components the monitor watched then. The page's uptime bars count these beside incidents.
 */
export const monitorOutages = pgTable(
  "monitor_outages",
  {
    workspaceId: text("workspace_id").notNull(),
    monitorId: text("monitor_id").notNull(),
    startedAt: ts("started_at").notNull(),
    endedAt: ts("ended_at"),
    componentIds: text("component_ids").array().notNull(),
    /** the status the monitor gave them (major_outage unless it says otherwise) */
    status: text("status").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.monitorId, t.startedAt] }),
    index("monitor_outages_ended").on(t.workspaceId, t.endedAt),
  ],
);

/** Remote `amends probe` processes: a location each, authenticated by a token of their own. */
export const probes = pgTable(
  "probes",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    location: text("location").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: ts("created_at").notNull().defaultNow(),
    lastSeenAt: ts("last_seen_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
