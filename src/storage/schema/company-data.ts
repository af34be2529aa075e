/** The company's own data: who its customers are and what they used and paid. */
import { sql } from "drizzle-orm";
import { bigint, boolean, foreignKey, index, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { money, ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

export const customers = pgTable(
  "customers",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    name: text("name"),
    homeRegion: text("home_region"),
    plan: text("plan"),
    locale: text("locale").notNull().default("en"),
    /** Contact channels in order of preference: [{type: "email", address}, {type: "sms", address}]. */
    channels: jsonb("channels").notNull().default([]).$type<{ type: string; address: string }[]>(),
    /** paid SMS add-on bought (as DiRete sells its alerts): SMS reaches them even when it is paid-only */
    smsEntitled: boolean("sms_entitled").notNull().default(false),
    monthlyFee: money("monthly_fee"),
    currency: text("currency"),
    /** the customer in Stripe (cus_…), where refunds' credits and grants are booked */
    stripeCustomerId: text("stripe_customer_id"),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("customers_region").on(t.workspaceId, t.homeRegion),
  ],
);

/** A stretch of use: a rental, a charging session, a connectivity period. `[started_at, ended_at)`. */
export const usageSessions = pgTable(
  "usage_sessions",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    customerId: text("customer_id").notNull(),
    kind: text("kind").notNull(),
    componentId: text("component_id"),
    region: text("region"),
    startedAt: ts("started_at").notNull(),
    endedAt: ts("ended_at"),
    charge: money("charge").notNull().default(0),
    currency: text("currency").notNull(),
    refunded: money("refunded").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({
      columns: [t.workspaceId, t.customerId],
      foreignColumns: [customers.workspaceId, customers.id],
    }),
    index("usage_sessions_time").on(t.workspaceId, t.startedAt, t.endedAt),
    index("usage_sessions_customer").on(t.workspaceId, t.customerId),
    // Sessions still running have no end to bound them by: few, so a small index of their own.
    index("usage_sessions_open").on(t.workspaceId, t.startedAt).where(sql`${t.endedAt} is null`),
  ],
);

/**
 * The longest closed session each workspace ever imported: a preview then reads only sessions
 * that start at most that long before its window, a tight range of usage_sessions_time.
 * Only ever grows (an upper bound stays correct when sessions shrink or go).
 */
export const usageBounds = pgTable("usage_bounds", {
  workspaceId: text("workspace_id")
    .primaryKey()
    .references(() => workspaces.id),
  longestSessionMs: bigint("longest_session_ms", { mode: "number" }).notNull(),
});

/**
 * A counter per workspace of what refunds are bounded by: each import of sessions or charges and
 * each chunk an apply books moves it on. A run applied at the version its preview read needs
 * not read those again.
 */
export const usageVersions = pgTable("usage_versions", {
  workspaceId: text("workspace_id")
    .primaryKey()
    .references(() => workspaces.id),
  version: bigint("version", { mode: "number" }).notNull(),
});

export const charges = pgTable(
  "charges",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    customerId: text("customer_id").notNull(),
    /** The usage session (or order) this charge bills; a session is billed once. */
    usageRef: text("usage_ref"),
    amount: money("amount").notNull(),
    currency: text("currency").notNull(),
    status: text("status").notNull(),
    createdAt: ts("created_at").notNull(),
    amountRefunded: money("amount_refunded").notNull().default(0),
    /** the billing system's invoice this charge paid, if any: refunds become credit notes on it */
    invoiceId: text("invoice_id"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    foreignKey({
      columns: [t.workspaceId, t.customerId],
      foreignColumns: [customers.workspaceId, customers.id],
    }),
    index("charges_created").on(t.workspaceId, t.createdAt),
    index("charges_customer").on(t.workspaceId, t.customerId, t.usageRef),
  ],
);

/**
 * What customers did, as it happened: sessions started, ended, and attempts that failed, sent by
 * the company as events (`POST /api/v1/usage-events`), each stored once by its id. Signal
 * monitors count them; customers whose attempts fail are the ones an outage leaves stuck.
 */
export const usageEvents = pgTable(
  "usage_events",
  {
    workspaceId: text("workspace_id").notNull(),
    id: text("id").notNull(),
    /** session_started | session_ended | session_failed */
    type: text("type").notNull(),
    at: ts("at").notNull(),
    customerId: text("customer_id").notNull(),
    sessionId: text("session_id"),
    componentId: text("component_id"),
    region: text("region"),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("usage_events_type_at").on(t.workspaceId, t.type, t.at),
    // Whether a customer's rental ended after a failed attempt: stuck customers, per failure.
    index("usage_events_customer").on(t.workspaceId, t.customerId, t.type, t.at),
  ],
);
