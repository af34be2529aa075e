/** Scheduled maintenance: one-off windows and recurring series. */
import { boolean, index, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "./columns.ts";
import { workspaces } from "./workspaces.ts";

export const maintenances = pgTable(
  "maintenances",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
    titleTranslations: jsonb("title_translations").notNull().default({}).$type<Record<string, string>>(),
    body: text("body").notNull(),
    bodyTranslations: jsonb("body_translations").notNull().default({}).$type<Record<string, string>>(),
    components: jsonb("components").notNull().$type<string[]>(),
    startsAt: ts("starts_at").notNull(),
    endsAt: ts("ends_at").notNull(),
    autoStart: boolean("auto_start").notNull().default(true),
    autoEnd: boolean("auto_end").notNull().default(false),
    overrunAfterMs: integer("overrun_after_ms").notNull().default(900_000),
    status: text("status").notNull(),
    startedAt: ts("started_at"),
    completedAt: ts("completed_at"),
    remindedAt: ts("reminded_at"),
    overrunIncidentId: text("overrun_incident_id"),
    /** the recurring series this window is an occurrence of */
    seriesId: text("series_id"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.id] }),
    index("maintenances_open").on(t.status, t.startsAt),
    index("maintenances_workspace").on(t.workspaceId, t.startsAt),
  ],
);

/**
 * A recurring maintenance window: an RFC 5545 RRULE expanded in its IANA time zone (02:00
 * Europe/Rome stays 02:00 across DST). Occurrences are materialised ahead as ordinary rows of
 * `maintenances` (id `<series>.<local date>`), so they start, end, remind and overrun like one-offs.
 */
export const maintenanceSeries = pgTable(
  "maintenance_series",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id),
    id: text("id").notNull(),
    title: text("title").notNull(),
    titleTranslations: jsonb("title_translations").notNull().default({}).$type<Record<string, string>>(),
    body: text("body").notNull(),
    bodyTranslations: jsonb("body_translations").notNull().default({}).$type<Record<string, string>>(),
    components: jsonb("components").notNull().$type<string[]>(),
    /** local wall time of the first occurrence, e.g. 2026-03-01T02:00 */
    firstStart: text("first_start").notNull(),
    timeZone: text("time_zone").notNull(),
    /** the RRULE line's value, e.g. FREQ=WEEKLY;BYDAY=SU */
    rrule: text("rrule").notNull(),
    durationMs: integer("duration_ms").notNull(),
    autoStart: boolean("auto_start").notNull().default(true),
    autoEnd: boolean("auto_end").notNull().default(false),
    overrunAfterMs: integer("overrun_after_ms").notNull().default(900_000),
    cancelledAt: ts("cancelled_at"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
