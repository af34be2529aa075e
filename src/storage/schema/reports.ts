/** "I am affected" reports. */
import { index, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

/**
 * What a customer told us from the status page or the public API: what failed, where. Linked to
 * the open incident on that component when there is one (its compensation runs review them);
 * without one, enough of them within a window alert the team (customers as a monitor).
 */
export const affectedReports = pgTable(
  "affected_reports",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    componentId: text("component_id").notNull(),
    city: text("city"),
    incidentId: text("incident_id"),
    /** the customer we recognised from the contact (id, e-mail or phone), if any */
    customerId: text("customer_id"),
    /** as given: customer reference, e-mail or phone; normalised e-mail/E.164 when recognisable */
    contact: text("contact"),
    contactChannel: text("contact_channel"),
    locale: text("locale").notNull(),
    text: text("text").notNull().default(""),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("affected_reports_component").on(t.workspaceId, t.componentId, t.createdAt),
    index("affected_reports_incident").on(t.workspaceId, t.incidentId),
  ],
);
