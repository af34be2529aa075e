/** Workspaces: every other row belongs to one. */
import { sql } from "drizzle-orm";
import { jsonb, pgTable, text } from "drizzle-orm/pg-core";
import type { Brand } from "../../core/brand.ts";
import { ts } from "./columns.ts";

export const workspaces = pgTable("workspaces", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  timeZone: text("time_zone").notNull().default("UTC"),
  publicUrl: text("public_url"),
  /** Signs unsubscribe and confirmation links: random per workspace, shared by every process. */
  linkSecret: text("link_secret")
    .notNull()
    .default(sql`replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`),
  /** Who hears about what: see notifications/settings.ts for the shape and its defaults. */
  notificationSettings: jsonb("notification_settings").notNull().default({}).$type<Record<string, unknown>>(),
  /** Four eyes on money: a compensation run whose total exceeds this (minor units per ISO 4217 code) needs a second, finance approver. */
  fourEyesAbove: jsonb("four_eyes_above").notNull().default({}).$type<Record<string, number>>(),
  /** The status page's look: name, accent colour, logo and favicon (core/brand.ts); the images' bytes are in brand_assets. */
  brand: jsonb("brand").notNull().default({}).$type<Brand>(),
  createdAt: ts("created_at").notNull().defaultNow(),
});
