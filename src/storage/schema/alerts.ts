/** Alerts in from the company's monitoring: integrations, the alerts they carry, every delivery. */
import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts, watcherCondition } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

/** One sender (an Alertmanager, a Grafana, a Datadog account…) and what its alerts do. */
export const alertIntegrations = pgTable(
  "alert_integrations",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name").notNull(),
    /** alertmanager | grafana | datadog | pagerduty | opsgenie */
    tool: text("tool").notNull(),
    /** sha256 of the bearer token the sender presents; the token itself is shown once */
    tokenHash: text("token_hash").notNull(),
    /** PagerDuty's signing secret, to check X-PagerDuty-Signature (kept: an HMAC needs it) */
    signingSecret: text("signing_secret"),
    /** label rules onto components: see core/alerts.ts */
    rules: jsonb("rules").notNull().default([]).$type<Record<string, unknown>[]>(),
    /** the components' status while an alert fires, unless its rule says otherwise */
    componentStatus: text("component_status").notNull().default("major_outage"),
    /** open_incident | alert_team | status_only */
    onFailure: text("on_failure").notNull(),
    protocol: text("protocol"),
    /** state (down while any mapped alert fires), recovery, flaps and the incident it opened */
    ...watcherCondition(),
    /** the components its open incident (or status) already names */
    failingComponents: jsonb("failing_components").notNull().default([]).$type<Record<string, unknown>[]>(),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Each alert as last heard of: firing or resolved, and where it landed. */
export const alerts = pgTable(
  "alerts",
  {
    workspaceId: text("workspace_id").notNull(),
    integrationId: text("integration_id").notNull(),
    fingerprint: text("fingerprint").notNull(),
    /** firing | resolved */
    status: text("status").notNull(),
    summary: text("summary").notNull(),
    labels: jsonb("labels").notNull().$type<Record<string, string>>(),
    /** [{componentId, status}], or null when no rule maps it (it changes nothing) */
    components: jsonb("components").$type<Record<string, unknown>[]>(),
    firstFiredAt: ts("first_fired_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.integrationId, t.fingerprint] }),
    index("alerts_firing").on(t.workspaceId, t.integrationId).where(sql`status = 'firing'`),
  ],
);

/** Every notification received, once: a replay (same key) is recognised and changes nothing. */
export const alertEvents = pgTable(
  "alert_events",
  {
    workspaceId: text("workspace_id").notNull(),
    integrationId: text("integration_id").notNull(),
    eventKey: text("event_key").notNull(),
    fingerprint: text("fingerprint").notNull(),
    /** firing | resolved | ignored */
    status: text("status").notNull(),
    summary: text("summary").notNull(),
    labels: jsonb("labels").notNull().$type<Record<string, string>>(),
    receivedAt: ts("received_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.integrationId, t.eventKey] }),
    index("alert_events_received").on(t.workspaceId, t.integrationId, t.receivedAt),
  ],
);
