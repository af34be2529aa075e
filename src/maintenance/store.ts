/**
 * Maintenance windows: stored, listed, completed by hand, and moved along by the clock
 * (`tickMaintenance`, run by every server; each step is a compare-and-set on the status, so
 * concurrent servers take it once). An overrun opens an incident on the same components.
 */
import { and, asc, eq, gt, gte, inArray, isNull, or } from "drizzle-orm";
import { requireComponents } from "../components/store.ts";
import { conflict, invalidField, notFound } from "../core/errors.ts";
import { advance, type Maintenance, type MaintenanceStatus } from "../core/maintenance.ts";
import { formatMessageTime } from "../core/wording.ts";
import { createIncident } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import { inEveryLanguage } from "../notifications/templates.ts";
import { announcePageChange } from "../status-page/changes.ts";
import type { Database, Db } from "../storage/database.ts";
import { maintenanceSeries, maintenances, outboxMessages, workspaces } from "../storage/schema.ts";
import { occurrencesBetween, validateRecurrence } from "./recurrence.ts";

type Row = typeof maintenances.$inferSelect;
const toMaintenance = (r: Row): Maintenance => ({ ...r, status: r.status as MaintenanceStatus });

export interface MaintenanceInput {
  id?: string;
  title: string;
  titleTranslations?: Record<string, string>;
  body: string;
  bodyTranslations?: Record<string, string>;
  components: string[];
  startsAt: Date;
  endsAt: Date;
  autoStart?: boolean;
  autoEnd?: boolean;
  overrunAfterMs?: number;
}

const checkComponents = (db: Db, workspaceId: string, input: { components: string[] }) =>
  requireComponents(db, workspaceId, input.components, (i) => `components.${i}`);

export async function createMaintenance(
  db: Db,
  workspaceId: string,
  input: MaintenanceInput,
  now: Date,
): Promise<Maintenance> {
  if (input.endsAt <= input.startsAt) throw invalidField("ends_at", "must be after starts_at");
  await checkComponents(db, workspaceId, input);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(maintenances)
      .values({
        workspaceId,
        id: input.id ?? newId("mnt"),
        title: input.title,
        titleTranslations: input.titleTranslations ?? {},
        body: input.body,
        bodyTranslations: input.bodyTranslations ?? {},
        components: input.components,
        startsAt: input.startsAt,
        endsAt: input.endsAt,
        autoStart: input.autoStart ?? true,
        autoEnd: input.autoEnd ?? false,
        overrunAfterMs: input.overrunAfterMs ?? 15 * 60_000,
        status: "scheduled",
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    const m = toMaintenance(row!);
    await tx.insert(outboxMessages).values(maintenanceEvent(workspaceId, m, "scheduled", now, null));
    return m;
  });
}

/** The outbox event announcing one step of a window; its key makes each step announced once. */
function maintenanceEvent(
  workspaceId: string,
  m: Maintenance,
  event: string,
  now: Date,
  incidentId: string | null,
) {
  return {
    workspaceId,
    id: newId("msg"),
    idempotencyKey: `maintenance:${m.id}:${event}`,
    event: `maintenance.${event}`,
    incidentId,
    locale: "en",
    template: `maintenance.${event}`,
    payload: {
      maintenance_id: m.id,
      title: m.title,
      title_translations: m.titleTranslations,
      components: m.components,
      starts_at: m.startsAt.toISOString(),
      ends_at: m.endsAt.toISOString(),
      incident_id: incidentId,
    },
    status: "pending",
    createdAt: now,
  };
}

export async function getMaintenance(db: Db, workspaceId: string, id: string): Promise<Maintenance> {
  const [row] = await db
    .select()
    .from(maintenances)
    .where(and(eq(maintenances.workspaceId, workspaceId), eq(maintenances.id, id)));
  if (!row) throw notFound("maintenance", id);
  return toMaintenance(row);
}

/** Windows still to come or under way, and those that ended since `since`, by start. */
export async function listMaintenances(db: Db, workspaceId: string, since: Date): Promise<Maintenance[]> {
  const rows = await db
    .select()
    .from(maintenances)
    .where(
      and(
        eq(maintenances.workspaceId, workspaceId),
        or(
          inArray(maintenances.status, ["scheduled", "in_progress", "overran"]),
          gte(maintenances.endsAt, since),
        ),
      ),
    )
    .orderBy(asc(maintenances.startsAt), asc(maintenances.id));
  return rows.map(toMaintenance);
}

/** Ends a window by hand (the work is done) or cancels one that has not started. */
export async function closeMaintenance(
  db: Db,
  workspaceId: string,
  id: string,
  how: "complete" | "cancel",
  now: Date,
): Promise<Maintenance> {
  const m = await getMaintenance(db, workspaceId, id);
  if (how === "cancel" && m.status !== "scheduled")
    throw conflict(`maintenance "${id}" is ${m.status}; only a scheduled window can be cancelled`);
  if (how === "complete" && !["scheduled", "in_progress", "overran"].includes(m.status)) {
    throw conflict(`maintenance "${id}" is already ${m.status}`);
  }
  // The step and its announcement together: subscribers, affected customers and the team hear
  // that the work is over (or called off) as they heard it was coming.
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(maintenances)
      .set(
        how === "cancel"
          ? { status: "cancelled", updatedAt: now }
          : { status: "completed", completedAt: now, startedAt: m.startedAt ?? now, updatedAt: now },
      )
      .where(
        and(
          eq(maintenances.workspaceId, workspaceId),
          eq(maintenances.id, id),
          eq(maintenances.status, m.status),
        ),
      )
      .returning();
    if (!row) throw conflict(`maintenance "${id}" changed at the same time; try again`);
    await tx
      .insert(outboxMessages)
      .values(
        maintenanceEvent(
          workspaceId,
          m,
          how === "cancel" ? "cancelled" : "completed",
          now,
          m.overrunIncidentId ?? null,
        ),
      )
      .onConflictDoNothing();
    return toMaintenance(row);
  });
}

/**
 * Moves every open window along the clock; returns the workspaces whose page changed (and
 * tells their pages). Each step is taken once, whatever the number of servers, and announced
 * once in the outbox.
 */
export async function tickMaintenance(database: Database, now: Date): Promise<string[]> {
  const changed = new Set<string>(await materializeSeries(database, now));
  const open = await database.db
    .select()
    .from(maintenances)
    .where(inArray(maintenances.status, ["scheduled", "in_progress"]));
  for (const row of open) {
    let m = toMaintenance(row);
    for (let step = advance(m, now); step; step = advance(m, now)) {
      const { next, event } = step;
      const won = await database.transaction(async (tx) => {
        const [updated] = await tx.db
          .update(maintenances)
          .set({
            status: next.status,
            startedAt: next.startedAt,
            completedAt: next.completedAt,
            remindedAt: next.remindedAt,
            updatedAt: now,
          })
          .where(
            and(
              eq(maintenances.workspaceId, row.workspaceId),
              eq(maintenances.id, m.id),
              eq(maintenances.status, m.status),
            ),
          )
          .returning();
        if (!updated) return false;
        let incidentId: string | null = null;
        if (event === "overran") {
          // In every language, each with the window's own title in it when the operator translated it.
          const timeZone = await workspaceTimeZone(tx.db, row.workspaceId);
          const titleIn = (l: string) => m.titleTranslations[l] ?? m.title;
          const title = inEveryLanguage("auto.overrunTitle", (l) => ({ title: titleIn(l) }));
          const body = inEveryLanguage("auto.overrunBody", (l) => ({
            title: titleIn(l),
            end: formatMessageTime(m.endsAt, l, timeZone),
          }));
          const incident = await createIncident(
            tx.db,
            row.workspaceId,
            {
              title: title.text,
              titleTranslations: title.translations,
              impact: "major",
              startedAt: m.endsAt,
              update: {
                status: "investigating",
                body: body.text,
                bodyTranslations: body.translations,
                components: m.components.map((componentId) => ({
                  componentId,
                  status: "partial_outage" as const,
                })),
                createdBy: "maintenance",
              },
            },
            now,
            false, // the maintenance.overran event below is the one message about it
          );
          incidentId = incident.id;
          await tx.db
            .update(maintenances)
            .set({ overrunIncidentId: incident.id })
            .where(and(eq(maintenances.workspaceId, row.workspaceId), eq(maintenances.id, m.id)));
        }
        await tx.db
          .insert(outboxMessages)
          .values(maintenanceEvent(row.workspaceId, m, event, now, incidentId))
          .onConflictDoNothing();
        return true;
      });
      if (!won) break;
      changed.add(row.workspaceId);
      m = next;
    }
  }
  for (const ws of changed) await announcePageChange(database, ws);
  return [...changed];
}

async function workspaceTimeZone(db: Db, workspaceId: string): Promise<string> {
  const [ws] = await db
    .select({ timeZone: workspaces.timeZone })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  return ws?.timeZone ?? "UTC";
}

// ---- Recurring windows. ----

/** How far ahead occurrences are written as windows: enough for the page, the feeds and reminders. */
export const SERIES_HORIZON_MS = 35 * 86_400_000;

export type MaintenanceSeries = typeof maintenanceSeries.$inferSelect;

export interface SeriesInput {
  id?: string;
  title: string;
  titleTranslations?: Record<string, string>;
  body: string;
  bodyTranslations?: Record<string, string>;
  components: string[];
  firstStart: string;
  timeZone: string;
  rrule: string;
  durationMs: number;
  autoStart?: boolean;
  autoEnd?: boolean;
  overrunAfterMs?: number;
}

export async function createSeries(
  database: Database,
  workspaceId: string,
  input: SeriesInput,
  now: Date,
): Promise<MaintenanceSeries> {
  validateRecurrence(input);
  if (input.durationMs <= 0) throw invalidField("duration", "must be positive");
  await checkComponents(database.db, workspaceId, input);
  const series = await database.transaction(async (tx) => {
    const [row] = await tx.db
      .insert(maintenanceSeries)
      .values({
        workspaceId,
        id: input.id ?? newId("mns"),
        title: input.title,
        titleTranslations: input.titleTranslations ?? {},
        body: input.body,
        bodyTranslations: input.bodyTranslations ?? {},
        components: input.components,
        firstStart: input.firstStart,
        timeZone: input.timeZone,
        rrule: input.rrule.replace(/^RRULE:/i, "").trim(),
        durationMs: input.durationMs,
        autoStart: input.autoStart ?? true,
        autoEnd: input.autoEnd ?? false,
        overrunAfterMs: input.overrunAfterMs ?? 15 * 60_000,
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict(`maintenance series "${input.id}" already exists`, "id");
    return row;
  });
  await materializeSeries(database, now, series);
  return series;
}

export async function listSeries(db: Db, workspaceId: string): Promise<MaintenanceSeries[]> {
  return db
    .select()
    .from(maintenanceSeries)
    .where(eq(maintenanceSeries.workspaceId, workspaceId))
    .orderBy(asc(maintenanceSeries.createdAt), asc(maintenanceSeries.id));
}

/** Stops a series: no new occurrences, and those still scheduled are cancelled. */
export async function cancelSeries(database: Database, workspaceId: string, id: string, now: Date) {
  return database.transaction(async (tx) => {
    const [row] = await tx.db
      .update(maintenanceSeries)
      .set({ cancelledAt: now })
      .where(
        and(
          eq(maintenanceSeries.workspaceId, workspaceId),
          eq(maintenanceSeries.id, id),
          isNull(maintenanceSeries.cancelledAt),
        ),
      )
      .returning();
    if (!row) throw notFound("active maintenance series", id);
    await tx.db
      .update(maintenances)
      .set({ status: "cancelled", updatedAt: now })
      .where(
        and(
          eq(maintenances.workspaceId, workspaceId),
          eq(maintenances.seriesId, id),
          eq(maintenances.status, "scheduled"),
          gt(maintenances.startsAt, now),
        ),
      );
    return row;
  });
}

/**
 * Writes each active series' occurrences of the coming SERIES_HORIZON_MS as ordinary windows
 * (id `<series>.<local start>`, so writing twice, from any number of servers, writes once).
 * Returns the workspaces that gained windows.
 */
export async function materializeSeries(
  database: Database,
  now: Date,
  only?: MaintenanceSeries,
): Promise<string[]> {
  const all = only
    ? [only]
    : await database.db.select().from(maintenanceSeries).where(isNull(maintenanceSeries.cancelledAt));
  const changed = new Set<string>();
  const until = new Date(now.getTime() + SERIES_HORIZON_MS);
  for (const series of all) {
    // From one duration back: a window under way when the series was made still counts.
    const from = new Date(Math.max(series.createdAt.getTime(), now.getTime()) - series.durationMs);
    const due = occurrencesBetween(series, from, until).filter(
      (o) => o.start.getTime() + series.durationMs > now.getTime(),
    );
    if (due.length === 0) continue;
    const inserted = await database.db
      .insert(maintenances)
      .values(
        due.map((o) => ({
          workspaceId: series.workspaceId,
          id: `${series.id}.${o.local}`,
          title: series.title,
          titleTranslations: series.titleTranslations,
          body: series.body,
          bodyTranslations: series.bodyTranslations,
          components: series.components,
          startsAt: o.start,
          endsAt: new Date(o.start.getTime() + series.durationMs),
          autoStart: series.autoStart,
          autoEnd: series.autoEnd,
          overrunAfterMs: series.overrunAfterMs,
          status: "scheduled",
          seriesId: series.id,
          createdAt: now,
          updatedAt: now,
        })),
      )
      .onConflictDoNothing()
      .returning({ id: maintenances.id });
    if (inserted.length) changed.add(series.workspaceId);
  }
  return [...changed];
}
