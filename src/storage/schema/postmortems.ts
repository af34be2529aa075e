/** Post-incident reports. */
import { foreignKey, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { incidents } from "./incidents.ts";
import { workspaces } from "./workspaces.ts";

/**
 * The letter after an incident, in the shape of car2go's 2014 one: what happened, what we did,
 * what happens now for you (the make-good), what we change. Drafted from the timeline and the
 * compensation figures, edited and published by the operator; one per incident.
 */
export const postIncidentReports = pgTable(
  "post_incident_reports",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    incidentId: text("incident_id").notNull(),
    /** draft → published */
    status: text("status").notNull(),
    /** {what_happened, what_we_did, what_now, what_we_change} in the operator's language */
    sections: jsonb("sections").notNull().$type<Record<string, string>>(),
    /** the same sections in other languages: {"it": {...}} */
    translations: jsonb("translations").notNull().default({}).$type<Record<string, Record<string, string>>>(),
    /** counts per city and compensation totals the draft was written from */
    figures: jsonb("figures").notNull().$type<Record<string, unknown>>(),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    publishedAt: ts("published_at"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.incidentId] }),
    foreignKey({
      columns: [t.workspaceId, t.incidentId],
      foreignColumns: [incidents.workspaceId, incidents.id],
    }),
  ],
);
