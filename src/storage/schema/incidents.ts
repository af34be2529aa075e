/** Incidents, the status of each component within them, and their updates. */
import { sql } from "drizzle-orm";
import { foreignKey, index, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { components } from "./components.ts";
import { workspaces } from "./workspaces.ts";

export const incidents = pgTable(
  "incidents",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
    titleTranslations: jsonb("title_translations").notNull().default({}).$type<Record<string, string>>(),
    impact: text("impact").notNull(),
    status: text("status").notNull(),
    startedAt: ts("started_at").notNull(),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    identifiedAt: ts("identified_at"),
    monitoringAt: ts("monitoring_at"),
    resolvedAt: ts("resolved_at"),
    eta: ts("eta"),
    nextUpdateBy: ts("next_update_by"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("incidents_open").on(t.workspaceId).where(sql`${t.resolvedAt} is null`),
    index("incidents_resolved_at").on(t.workspaceId, t.resolvedAt),
  ],
);

/** Current status of each component within each incident. */
export const incidentComponents = pgTable(
  "incident_components",
  {
    workspaceId: text("workspace_id").notNull(),
    incidentId: text("incident_id").notNull(),
    componentId: text("component_id").notNull(),
    status: text("status").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.incidentId, t.componentId] }),
    foreignKey({
      columns: [t.workspaceId, t.incidentId],
      foreignColumns: [incidents.workspaceId, incidents.id],
    }),
    foreignKey({
      columns: [t.workspaceId, t.componentId],
      foreignColumns: [components.workspaceId, components.id],
    }),
    index("incident_components_component").on(t.workspaceId, t.componentId),
  ],
);

export const incidentUpdates = pgTable(
  "incident_updates",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    incidentId: text("incident_id").notNull(),
    status: text("status").notNull(),
    body: text("body").notNull(),
    bodyTranslations: jsonb("body_translations").notNull().default({}).$type<Record<string, string>>(),
    /** [{componentId, oldStatus, newStatus}] as the update changed them. */
    components: jsonb("components")
      .notNull()
      .$type<{ componentId: string; oldStatus: string; newStatus: string }[]>(),
    eta: ts("eta"),
    nextUpdateBy: ts("next_update_by"),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
    /** for the team only (console, admin API), never public: e.g. which monitor saw what */
    teamNote: text("team_note"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({
      columns: [t.workspaceId, t.incidentId],
      foreignColumns: [incidents.workspaceId, incidents.id],
    }),
    index("incident_updates_incident").on(t.workspaceId, t.incidentId, t.createdAt),
  ],
);
