import { and, eq, inArray, sql } from "drizzle-orm";
import {
  buildTree,
  type Component,
  type ComponentNode,
  type ComponentStatus,
  checkParent,
  flattenTree,
} from "../core/components.ts";
import { conflict, notFound, unknownReference } from "../core/errors.ts";
import { newId } from "../lib/ids.ts";
import type { Db } from "../storage/database.ts";
import { components, incidentComponents, incidents, maintenances } from "../storage/schema.ts";

type Row = typeof components.$inferSelect;

const toComponent = (r: Row): Component => ({
  id: r.id,
  parentId: r.parentId,
  name: r.name,
  description: r.description,
  region: r.region,
  position: r.position,
  ownStatus: r.ownStatus as ComponentStatus,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

export async function listComponents(db: Db, workspaceId: string): Promise<Component[]> {
  const rows = await db.select().from(components).where(eq(components.workspaceId, workspaceId));
  return rows.map(toComponent);
}

/** Refuses the first of `values` no component of the workspace has in `column`. */
async function requireKnown(
  db: Db,
  workspaceId: string,
  column: typeof components.id | typeof components.region,
  kind: string,
  values: readonly string[],
  at: (index: number) => string,
): Promise<void> {
  if (values.length === 0) return;
  const found = await db
    .selectDistinct({ value: column })
    .from(components)
    .where(and(eq(components.workspaceId, workspaceId), inArray(column, [...new Set(values)])));
  const known = new Set(found.map((r) => r.value));
  values.forEach((value, i) => {
    if (!known.has(value)) throw unknownReference(at(i), kind, value);
  });
}

/**
 * Refuses a list naming a component the workspace does not have, naming the first bad entry's
 * field (`at(i)`, e.g. `components.0.id`): everywhere a component list comes in.
 */
export function requireComponents(
  db: Db,
  workspaceId: string,
  ids: readonly string[],
  at: (index: number) => string,
): Promise<void> {
  return requireKnown(db, workspaceId, components.id, "component", ids, at);
}

/** Refuses a list naming a city (region) none of the workspace's components is in. */
export function requireRegions(
  db: Db,
  workspaceId: string,
  regions: readonly string[],
  at: (index: number) => string,
): Promise<void> {
  return requireKnown(db, workspaceId, components.region, "city", regions, at);
}

/** Per component, its statuses in the incidents still open and the maintenance under way. */
export async function openIncidentStatuses(
  db: Db,
  workspaceId: string,
): Promise<Map<string, ComponentStatus[]>> {
  const rows = await db
    .select({ componentId: incidentComponents.componentId, status: incidentComponents.status })
    .from(incidentComponents)
    .innerJoin(
      incidents,
      and(
        eq(incidents.workspaceId, incidentComponents.workspaceId),
        eq(incidents.id, incidentComponents.incidentId),
      ),
    )
    .where(and(eq(incidentComponents.workspaceId, workspaceId), sql`${incidents.resolvedAt} is null`));
  const map = new Map<string, ComponentStatus[]>();
  for (const r of rows)
    map.set(r.componentId, [...(map.get(r.componentId) ?? []), r.status as ComponentStatus]);
  // Windows of maintenance under way put their components under maintenance.
  const active = await db
    .select({ components: maintenances.components })
    .from(maintenances)
    .where(and(eq(maintenances.workspaceId, workspaceId), eq(maintenances.status, "in_progress")));
  for (const m of active)
    for (const id of m.components) map.set(id, [...(map.get(id) ?? []), "under_maintenance"]);
  return map;
}

/** The component forest with effective statuses, parents before children. */
export async function loadComponentTree(db: Db, workspaceId: string): Promise<ComponentNode[]> {
  const [list, statuses] = await Promise.all([
    listComponents(db, workspaceId),
    openIncidentStatuses(db, workspaceId),
  ]);
  return buildTree(list, statuses);
}

export async function getComponentNode(db: Db, workspaceId: string, id: string): Promise<ComponentNode> {
  const node = flattenTree(await loadComponentTree(db, workspaceId)).find((n) => n.component.id === id);
  if (!node) throw notFound("component", id);
  return node;
}

export interface ComponentInput {
  id?: string;
  parentId?: string | null;
  name: string;
  description?: string | null;
  region?: string | null;
  position?: number;
  status?: ComponentStatus;
}

export async function createComponent(
  db: Db,
  workspaceId: string,
  input: ComponentInput,
  now: Date,
): Promise<string> {
  return db.transaction(async (tx) => {
    const id = input.id ?? newId("cmp");
    const existing = await listComponents(tx, workspaceId);
    if (existing.some((c) => c.id === id)) throw conflict(`id: a component "${id}" already exists`, "id");
    checkParent(existing, id, input.parentId ?? null);
    await tx.insert(components).values({
      workspaceId,
      id,
      parentId: input.parentId ?? null,
      name: input.name,
      description: input.description ?? null,
      region: input.region ?? null,
      position: input.position ?? existing.filter((c) => c.parentId === (input.parentId ?? null)).length,
      ownStatus: input.status ?? "operational",
      createdAt: now,
      updatedAt: now,
    });
    return id;
  });
}

export async function updateComponent(
  db: Db,
  workspaceId: string,
  id: string,
  patch: Partial<Omit<ComponentInput, "id">>,
  now: Date,
): Promise<void> {
  await db.transaction(async (tx) => {
    const existing = await listComponents(tx, workspaceId);
    if (!existing.some((c) => c.id === id)) throw notFound("component", id);
    if (patch.parentId !== undefined) checkParent(existing, id, patch.parentId);
    await tx
      .update(components)
      .set({
        ...(patch.parentId !== undefined && { parentId: patch.parentId }),
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.description !== undefined && { description: patch.description }),
        ...(patch.region !== undefined && { region: patch.region }),
        ...(patch.position !== undefined && { position: patch.position }),
        ...(patch.status !== undefined && { ownStatus: patch.status }),
        updatedAt: now,
      })
      .where(and(eq(components.workspaceId, workspaceId), eq(components.id, id)));
  });
}

/** Deletes a leaf component that no incident has ever named; history must stay readable. */
export async function deleteComponent(db: Db, workspaceId: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const existing = await listComponents(tx, workspaceId);
    if (!existing.some((c) => c.id === id)) throw notFound("component", id);
    if (existing.some((c) => c.parentId === id))
      throw conflict(`component "${id}" has children; delete or move them first`);
    const used = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(incidentComponents)
      .where(and(eq(incidentComponents.workspaceId, workspaceId), eq(incidentComponents.componentId, id)));
    if ((used[0]?.n ?? 0) > 0)
      throw conflict(`component "${id}" is part of incident history and cannot be deleted`);
    await tx.delete(components).where(and(eq(components.workspaceId, workspaceId), eq(components.id, id)));
  });
}
