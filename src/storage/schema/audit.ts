/** The audit log. */
import { bigint, index, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";

/** Who changed what, when, with before and after. Append-only: a trigger refuses UPDATE and DELETE. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    workspaceId: text("workspace_id").notNull(),
    at: ts("at").notNull(),
    /** user | token | local | monitor | system */
    actorKind: text("actor_kind").notNull(),
    actorId: text("actor_id").notNull(),
    actorName: text("actor_name").notNull(),
    /** e.g. incident.create, compensation-run.approve */
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    before: jsonb("before"),
    after: jsonb("after"),
    ip: text("ip"),
  },
  (t) => [
    index("audit_log_workspace").on(t.workspaceId, t.id),
    index("audit_log_target").on(t.workspaceId, t.targetType, t.targetId),
  ],
);
