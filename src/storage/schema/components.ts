/** The component tree. */
import { foreignKey, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

export const components = pgTable(
  "components",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    parentId: text("parent_id"),
    name: text("name").notNull(),
    description: text("description"),
    region: text("region"),
    position: integer("position").notNull().default(0),
    ownStatus: text("own_status").notNull().default("operational"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({ columns: [t.workspaceId, t.parentId], foreignColumns: [t.workspaceId, t.id] }),
    index("components_parent").on(t.workspaceId, t.parentId),
  ],
);
