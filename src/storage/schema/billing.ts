/** Exports of ledger entries to billing systems. */
import { integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";

/** What was sent to a billing system for each ledger entry. */
export const billingExports = pgTable(
  "billing_exports",
  {
    workspaceId: text("workspace_id").notNull(),
    entryId: text("entry_id").notNull(),
    target: text("target").notNull(),
    status: text("status").notNull(),
    providerId: text("provider_id"),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.entryId, t.target] })],
);
