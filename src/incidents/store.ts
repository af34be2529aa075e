/**
 * Reads and writes incidents. Every change loads the incident under a row lock, applies a
 * pure transition from core/incidents, and writes the difference in the same transaction.
 */
import { and, asc, desc, eq, gte, inArray, isNotNull, isNull, or, sql } from "drizzle-orm";
import { requireComponents } from "../components/store.ts";
import type { ComponentStatus } from "../core/components.ts";
import { notFound } from "../core/errors.ts";
import {
  type AffectedComponent,
  editIncident as applyEdit,
  type Impact,
  type Incident,
  type IncidentEdit,
  type IncidentStatus,
  type IncidentUpdate,
  openIncident,
  postUpdate,
  type UpdateInput,
} from "../core/incidents.ts";
import { newId } from "../lib/ids.ts";
import type { Db } from "../storage/database.ts";
import { incidentComponents, incidents, incidentUpdates, outboxMessages } from "../storage/schema.ts";

type IncidentRow = typeof incidents.$inferSelect;

async function hydrate(db: Db, workspaceId: string, rows: IncidentRow[]): Promise<Incident[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [comps, updates] = await Promise.all([
    db
      .select()
      .from(incidentComponents)
      .where(
        and(eq(incidentComponents.workspaceId, workspaceId), inArray(incidentComponents.incidentId, ids)),
      ),
    db
      .select()
      .from(incidentUpdates)
      .where(and(eq(incidentUpdates.workspaceId, workspaceId), inArray(incidentUpdates.incidentId, ids)))
      .orderBy(asc(incidentUpdates.createdAt), asc(incidentUpdates.id)),
  ]);
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    titleTranslations: r.titleTranslations,
    impact: r.impact as Impact,
    status: r.status as IncidentStatus,
    startedAt: r.startedAt,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    identifiedAt: r.identifiedAt,
    monitoringAt: r.monitoringAt,
    resolvedAt: r.resolvedAt,
    eta: r.eta,
    nextUpdateBy: r.nextUpdateBy,
    components: comps
      .filter((c) => c.incidentId === r.id)
      .map((c) => ({ componentId: c.componentId, status: c.status as ComponentStatus }))
      .sort((a, b) => a.componentId.localeCompare(b.componentId)),
    updates: updates
      .filter((u) => u.incidentId === r.id)
      .map(
        (u): IncidentUpdate => ({
          id: u.id,
          incidentId: u.incidentId,
          status: u.status as IncidentStatus,
          body: u.body,
          bodyTranslations: u.bodyTranslations,
          components: u.components as IncidentUpdate["components"],
          eta: u.eta,
          nextUpdateBy: u.nextUpdateBy,
          createdAt: u.createdAt,
          createdBy: u.createdBy,
          teamNote: u.teamNote,
        }),
      ),
  }));
}

export interface IncidentFilter {
  state?: "open" | "resolved" | "all";
  /** Only incidents still open or resolved at or after this instant. */
  resolvedSince?: Date;
  limit?: number;
}

export async function listIncidents(
  db: Db,
  workspaceId: string,
  filter: IncidentFilter = {},
): Promise<Incident[]> {
  const state = filter.state ?? "all";
  const conditions = [eq(incidents.workspaceId, workspaceId)];
  if (state === "open") conditions.push(isNull(incidents.resolvedAt));
  if (state === "resolved") conditions.push(isNotNull(incidents.resolvedAt));
  if (filter.resolvedSince) {
    conditions.push(or(isNull(incidents.resolvedAt), gte(incidents.resolvedAt, filter.resolvedSince))!);
  }
  const rows = await db
    .select()
    .from(incidents)
    .where(and(...conditions))
    .orderBy(desc(incidents.startedAt), desc(incidents.id))
    .limit(filter.limit ?? 50);
  return hydrate(db, workspaceId, rows);
}

export async function getIncident(db: Db, workspaceId: string, id: string, lock = false): Promise<Incident> {
  const query = db
    .select()
    .from(incidents)
    .where(and(eq(incidents.workspaceId, workspaceId), eq(incidents.id, id)));
  const rows = lock ? await query.for("update") : await query;
  const [incident] = await hydrate(db, workspaceId, rows);
  if (!incident) throw notFound("incident", id);
  return incident;
}

const checkComponentsExist = (db: Db, workspaceId: string, named: readonly AffectedComponent[]) =>
  requireComponents(
    db,
    workspaceId,
    named.map((c) => c.componentId),
    (i) => `components.${i}.id`,
  );

/** Writes `after` over `before` (undefined for a new incident): the row, its components, new updates. */
/**
 * Each new update is news: one outbox event per update (opened, updated or resolved), written
 * in the same transaction, that the notifications worker fans out to everyone concerned.
 */
async function announce(tx: Db, workspaceId: string, before: Incident | undefined, after: Incident) {
  const fresh = after.updates.slice(before?.updates.length ?? 0);
  for (const [i, u] of fresh.entries()) {
    const event =
      !before && i === 0
        ? "incident.opened"
        : u.status === "resolved"
          ? "incident.resolved"
          : "incident.updated";
    await tx
      .insert(outboxMessages)
      .values({
        workspaceId,
        id: newId("msg"),
        idempotencyKey: `incident:${after.id}:${u.id}`,
        event,
        incidentId: after.id,
        locale: "en",
        template: event,
        payload: {
          incident_id: after.id,
          update_id: u.id,
          title: after.title,
          title_translations: after.titleTranslations,
          body: u.body,
          body_translations: u.bodyTranslations,
          status: u.status,
          impact: after.impact,
          components: after.components.map((c) => c.componentId),
          started_at: after.startedAt.toISOString(),
          eta: u.eta?.toISOString() ?? null,
          next_update_by: u.nextUpdateBy?.toISOString() ?? null,
          posted_at: u.createdAt.toISOString(),
        },
        status: "pending",
        createdAt: u.createdAt,
      })
      .onConflictDoNothing();
  }
}

async function save(
  tx: Db,
  workspaceId: string,
  before: Incident | undefined,
  after: Incident,
  notify = true,
): Promise<void> {
  if (notify) await announce(tx, workspaceId, before, after);
  const row = {
    title: after.title,
    titleTranslations: after.titleTranslations,
    impact: after.impact,
    status: after.status,
    startedAt: after.startedAt,
    createdAt: after.createdAt,
    updatedAt: after.updatedAt,
    identifiedAt: after.identifiedAt,
    monitoringAt: after.monitoringAt,
    resolvedAt: after.resolvedAt,
    eta: after.eta,
    nextUpdateBy: after.nextUpdateBy,
  };
  if (before) {
    await tx
      .update(incidents)
      .set(row)
      .where(and(eq(incidents.workspaceId, workspaceId), eq(incidents.id, after.id)));
  } else {
    await tx.insert(incidents).values({ workspaceId, id: after.id, ...row });
  }
  for (const c of after.components) {
    await tx
      .insert(incidentComponents)
      .values({ workspaceId, incidentId: after.id, componentId: c.componentId, status: c.status })
      .onConflictDoUpdate({
        target: [
          incidentComponents.workspaceId,
          incidentComponents.incidentId,
          incidentComponents.componentId,
        ],
        set: { status: c.status },
      });
  }
  const fresh = after.updates.slice(before?.updates.length ?? 0);
  if (fresh.length > 0) {
    await tx.insert(incidentUpdates).values(
      fresh.map((u) => ({
        workspaceId,
        id: u.id,
        incidentId: u.incidentId,
        status: u.status,
        body: u.body,
        bodyTranslations: u.bodyTranslations,
        components: u.components,
        eta: u.eta,
        nextUpdateBy: u.nextUpdateBy,
        createdAt: u.createdAt,
        createdBy: u.createdBy,
        teamNote: u.teamNote ?? null,
      })),
    );
  }
}

export interface OpenIncidentInput {
  id?: string;
  title: string;
  titleTranslations?: Record<string, string>;
  impact?: Impact;
  startedAt?: Date;
  update: UpdateInput;
}

export async function createIncident(
  db: Db,
  workspaceId: string,
  input: OpenIncidentInput,
  now: Date,
  notify = true,
): Promise<Incident> {
  return db.transaction(async (tx) => {
    await checkComponentsExist(tx, workspaceId, input.update.components ?? []);
    const incident = openIncident({ ...input, id: input.id ?? newId("inc"), updateId: newId("upd") }, now);
    await save(tx, workspaceId, undefined, incident, notify);
    return incident;
  });
}

export async function addIncidentUpdate(
  db: Db,
  workspaceId: string,
  id: string,
  input: UpdateInput,
  now: Date,
  notify = true,
): Promise<Incident> {
  return db.transaction(async (tx) => {
    const before = await getIncident(tx, workspaceId, id, true);
    await checkComponentsExist(tx, workspaceId, input.components ?? []);
    const after = postUpdate(before, newId("upd"), input, now);
    await save(tx, workspaceId, before, after, notify);
    return after;
  });
}

export async function editIncident(
  db: Db,
  workspaceId: string,
  id: string,
  patch: IncidentEdit,
  now: Date,
): Promise<Incident> {
  return db.transaction(async (tx) => {
    const before = await getIncident(tx, workspaceId, id, true);
    const after = applyEdit(before, patch, now);
    await save(tx, workspaceId, before, after);
    return after;
  });
}

export async function countOpenIncidents(db: Db, workspaceId?: string): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(incidents)
    .where(
      and(isNull(incidents.resolvedAt), workspaceId ? eq(incidents.workspaceId, workspaceId) : undefined),
    );
  return rows[0]?.n ?? 0;
}

/** Stores an incident built elsewhere (imports, the demo) with its whole timeline. */
export async function insertIncident(db: Db, workspaceId: string, incident: Incident): Promise<void> {
  await save(db, workspaceId, undefined, incident, false);
}
