/**
 * The one schema, for PGlite and PostgreSQL alike. Every row belongs to a workspace and
 * every key starts with the workspace id, so workspaces never see each other's data.
 * Money columns are integers in minor units beside an ISO 4217 code.
 */
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
  timestamp,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const money = (name: string) => bigint(name, { mode: "number" });

export const workspaces = pgTable("workspaces", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  timeZone: text("time_zone").notNull().default("UTC"),
  publicUrl: text("public_url"),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    name: text("name").notNull(),
    /** SHA-256 of the secret: tokens are 256 random bits, so a slow hash adds nothing. */
    secretHash: text("secret_hash").notNull().unique(),
    scopes: text("scopes").array().notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [index("api_tokens_workspace").on(t.workspaceId)],
);

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

export const incidents = pgTable(
  "incidents",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
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
    /** [{componentId, oldStatus, newStatus}] as the update changed them. */
    components: jsonb("components")
      .notNull()
      .$type<{ componentId: string; oldStatus: string; newStatus: string }[]>(),
    eta: ts("eta"),
    nextUpdateBy: ts("next_update_by"),
    createdAt: ts("created_at").notNull(),
    createdBy: text("created_by"),
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

// ---- The company's own data: who its customers are and what they used and paid. ----

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
    monthlyFee: money("monthly_fee"),
    currency: text("currency"),
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
  ],
);

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
