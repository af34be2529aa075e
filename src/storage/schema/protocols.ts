/** Emergency protocols. */
import { jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

/** Emergency protocols: an incident and its messages prepared in calm times, started in one action. */
export const protocols = pgTable(
  "protocols",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    template: jsonb("template").notNull().$type<Record<string, unknown>>(),
    /** the incident its last start opened: starting again while it is open returns it */
    incidentId: text("incident_id"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.name] })],
);
