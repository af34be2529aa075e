/** Compensation: policies, runs (preview → approve → apply), the ledger. */
import { sql } from "drizzle-orm";
import {
  bigint,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { money, ts } from "./columns.ts";

/** Every saved version of a policy's YAML; a run names the version it used. */
export const policies = pgTable(
  "policies",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    version: integer("version").notNull(),
    yaml: text("yaml").notNull(),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id, t.version] })],
);

export const compRuns = pgTable(
  "comp_runs",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    incidentId: text("incident_id").notNull(),
    policyId: text("policy_id").notNull(),
    policyVersion: integer("policy_version").notNull(),
    /** previewed → approved → applied */
    status: text("status").notNull(),
    asOf: ts("as_of").notNull(),
    windowStart: ts("window_start").notNull(),
    windowEnd: ts("window_end").notNull(),
    /** {money: {EUR: n}, units: {minutes: n}, lines, customers, excluded, review, notifications} */
    summary: jsonb("summary").notNull().$type<Record<string, unknown>>(),
    /** SHA-256 of the preview document: same inputs, same hash */
    previewHash: text("preview_hash").notNull(),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
    approvedAt: ts("approved_at"),
    approvedBy: text("approved_by"),
    appliedAt: ts("applied_at"),
    appliedSummary: jsonb("applied_summary").$type<Record<string, unknown>>(),
    /** the last customer whose lines and message an apply has committed: it goes on from there */
    applyCursor: text("apply_cursor"),
    /** messages the run's apply queued so far, across attempts */
    applyMessages: integer("apply_messages").notNull().default(0),
    /**
     * usage_versions as the preview read it before its data, moved on with each chunk the
     * apply books while nothing else changed it (null: previewed before 0025)
     */
    usageVersion: bigint("usage_version", { mode: "number" }),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("comp_runs_incident").on(t.workspaceId, t.incidentId),
  ],
);

/**
 * One ActionLine per row, column by column (no JSON copy of the row: it doubled what a large
 * preview writes). `lineOf` in compensation/run-store.ts turns a row back into the line.
 */
export const compRunLines = pgTable(
  "comp_run_lines",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    key: text("key").notNull(),
    customerId: text("customer_id").notNull(),
    kind: text("kind").notNull(),
    amount: money("amount").notNull(),
    /** ISO 4217 code for money, null for units */
    currency: text("currency"),
    unit: text("unit"),
    target: money("target").notNull(),
    alreadyApplied: money("already_applied").notNull(),
    refundedElsewhere: money("refunded_elsewhere").notNull(),
    policyGroup: text("policy_group").notNull(),
    rule: text("rule").notNull(),
    breakdown: jsonb("breakdown").notNull().$type<{ rule: string; amount: number }[]>(),
    session: text("session"),
    charge: text("charge"),
    reason: text("reason"),
    /** ISO 8601 instants, kept as the engine wrote them */
    dueBy: text("due_by"),
    scope: text("scope"),
    expiresAt: text("expires_at"),
    visibleBy: text("visible_by"),
  },
  // By customer first: an apply books whole customers per chunk (a key belongs to one customer).
  (t) => [primaryKey({ columns: [t.workspaceId, t.runId, t.customerId, t.key] })],
);

/** Excluded items and review items of a run. */
export const compRunItems = pgTable(
  "comp_run_items",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    type: text("type").notNull(),
    customerId: text("customer_id").notNull(),
    reference: text("reference").notNull(),
    reason: text("reason").notNull(),
    detail: text("detail"),
    key: text("key"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.runId, t.type, t.customerId, t.reference, t.reason] })],
);

/**
 * Customers a run tells that nothing is due (affected, but owed nothing or already paid).
 * Everyone with a line is told what they got; the lines say who they are.
 */
export const compRunNotices = pgTable(
  "comp_run_notices",
  {
    workspaceId: text("workspace_id").notNull(),
    runId: text("run_id").notNull(),
    customerId: text("customer_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.runId, t.customerId] })],
);

/**
 * The ledger: one entry per payment decision, immutable (a trigger refuses UPDATE and DELETE).
 * `idempotency_key` is `incident:target:kind@target_amount`: applying the same decision twice
 * hits the unique index and posts nothing.
 */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    actionKey: text("action_key").notNull(),
    runId: text("run_id"),
    incidentId: text("incident_id").notNull(),
    customerId: text("customer_id").notNull(),
    kind: text("kind").notNull(),
    amount: money("amount").notNull(),
    /** ISO 4217 code, or a unit ledger such as `minutes:berlin` */
    currency: text("currency").notNull(),
    /** refunds: what the money came back from, `session:<id>` or `charge:<id>`, whichever incident */
    refundOf: text("refund_of"),
    detail: jsonb("detail").notNull().$type<Record<string, unknown>>(),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("ledger_entries_refund_of").on(t.workspaceId, t.refundOf).where(sql`${t.refundOf} is not null`),
    uniqueIndex("ledger_entries_idempotency").on(t.workspaceId, t.idempotencyKey),
    index("ledger_entries_action").on(t.workspaceId, t.actionKey),
    index("ledger_entries_customer").on(t.workspaceId, t.customerId, t.createdAt),
    // a run's entries, for its summary and its exports
    index("ledger_entries_run").on(t.workspaceId, t.runId),
  ],
);

/** Double-entry postings: for each entry, the amounts per currency sum to zero. */
export const ledgerPostings = pgTable(
  "ledger_postings",
  {
    workspaceId: text("workspace_id").notNull(),
    entryId: text("entry_id").notNull(),
    account: text("account").notNull(),
    /** positive = debit, negative = credit */
    amount: money("amount").notNull(),
    currency: text("currency").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.entryId, t.account] }),
    foreignKey({
      columns: [t.workspaceId, t.entryId],
      foreignColumns: [ledgerEntries.workspaceId, ledgerEntries.id],
    }),
  ],
);
