/**
 * Components: the tree of things that can fail (service → function → city/region/tower).
 *
 * Invariants: ids are unique per workspace; the parent links form a forest (no cycles).
 *
 * A component's effective status is read the way a customer reads it: the worst of its own
 * status, of its status in every open incident (and maintenance under way), of its children's
 * effective statuses, and of what is set directly on any of its ancestors. An incident on `app`
 * makes App › Milan affected too; a failure in Milan makes App affected, not Rome.
 */
import { AmendsError, conflict, invalidField } from "./errors.ts";

export const COMPONENT_STATUSES = [
  "operational",
  "under_maintenance",
  "degraded_performance",
  "partial_outage",
  "major_outage",
] as const;
export type ComponentStatus = (typeof COMPONENT_STATUSES)[number];

/** Higher is worse; maintenance is planned, so it ranks below any unplanned trouble. */
const SEVERITY: Record<ComponentStatus, number> = {
  operational: 0,
  under_maintenance: 1,
  degraded_performance: 2,
  partial_outage: 3,
  major_outage: 4,
};

export const COMPONENT_STATUS_LABELS: Record<ComponentStatus, string> = {
  operational: "Operational",
  under_maintenance: "Under maintenance",
  degraded_performance: "Degraded performance",
  partial_outage: "Partial outage",
  major_outage: "Major outage",
};

export function worstStatus(statuses: Iterable<ComponentStatus>): ComponentStatus {
  let worst: ComponentStatus = "operational";
  for (const s of statuses) if (SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst;
}

export interface Component {
  id: string;
  parentId: string | null;
  name: string;
  description: string | null;
  /** City, region or site this component serves, e.g. `milan`; inherited by descendants. */
  region: string | null;
  position: number;
  /** Status set directly by an operator or monitor, outside any incident. */
  ownStatus: ComponentStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface ComponentNode {
  component: Component;
  status: ComponentStatus;
  /** Region of the component or of its nearest ancestor that has one. */
  region: string | null;
  /** Names from the root down to this component. */
  path: string[];
  /** Ids of its ancestors, from the root down (its parent last). */
  ancestorIds: string[];
  children: ComponentNode[];
}

const byPosition = (a: Component, b: Component) =>
  a.position - b.position || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);

/**
 * Builds the forest with effective statuses. `incidentStatuses` holds, per component id,
 * its statuses in the incidents that are still open (and maintenance under way).
 */
export function buildTree(
  components: readonly Component[],
  incidentStatuses: ReadonlyMap<string, readonly ComponentStatus[]> = new Map(),
): ComponentNode[] {
  const children = new Map<string | null, Component[]>();
  for (const c of components) {
    const siblings = children.get(c.parentId) ?? [];
    siblings.push(c);
    children.set(c.parentId, siblings);
  }
  // `above`: the worst status set directly on an ancestor. Only direct statuses flow down, so a
  // failing child never paints its siblings through the parent it rolled up into.
  const build = (c: Component, parent: ComponentNode | null, above: ComponentStatus): ComponentNode => {
    const direct = worstStatus([c.ownStatus, ...(incidentStatuses.get(c.id) ?? [])]);
    const node: ComponentNode = {
      component: c,
      status: "operational",
      region: c.region ?? parent?.region ?? null,
      path: [...(parent?.path ?? []), c.name],
      ancestorIds: parent ? [...parent.ancestorIds, parent.component.id] : [],
      children: [],
    };
    const below = worstStatus([above, direct]);
    node.children = (children.get(c.id) ?? []).sort(byPosition).map((child) => build(child, node, below));
    node.status = worstStatus([below, ...node.children.map((n) => n.status)]);
    return node;
  };
  return (children.get(null) ?? []).sort(byPosition).map((c) => build(c, null, "operational"));
}

/** Depth-first, parents before children, in display order. */
export function flattenTree(nodes: readonly ComponentNode[]): ComponentNode[] {
  const out: ComponentNode[] = [];
  const walk = (n: ComponentNode) => {
    out.push(n);
    n.children.forEach(walk);
  };
  nodes.forEach(walk);
  return out;
}

/** Ids of `rootId` and all its descendants. */
export function subtreeIds(components: readonly Component[], rootId: string): Set<string> {
  return subtreesOf(components, [rootId]);
}

/** Ids of the roots and all their descendants, in one walk. */
export function subtreesOf(components: readonly Component[], rootIds: Iterable<string>): Set<string> {
  const children = new Map<string, string[]>();
  for (const c of components) {
    if (c.parentId === null) continue;
    const siblings = children.get(c.parentId);
    if (siblings) siblings.push(c.id);
    else children.set(c.parentId, [c.id]);
  }
  const ids = new Set<string>();
  const stack = [...rootIds];
  while (stack.length) {
    const id = stack.pop()!;
    if (ids.has(id)) continue;
    ids.add(id);
    stack.push(...(children.get(id) ?? []));
  }
  return ids;
}

/**
 * The components the public may see. A page shows its components with their subtrees; what
 * only private pages show is private, and so hidden from the main page and every public
 * document. What a public page shows stays public, with its ancestors (the path to it).
 */
export function publicComponentIds(
  components: readonly Component[],
  pages: readonly { components: readonly string[]; private: boolean }[],
): Set<string> {
  const onPrivate = subtreesOf(
    components,
    pages.filter((p) => p.private).flatMap((p) => p.components),
  );
  const onPublic = subtreesOf(
    components,
    pages.filter((p) => !p.private).flatMap((p) => p.components),
  );
  const parents = new Map(components.map((c) => [c.id, c.parentId]));
  const kept = new Set(onPublic);
  for (const id of onPublic)
    for (let up = parents.get(id) ?? null; up !== null && !kept.has(up); up = parents.get(up) ?? null)
      kept.add(up);
  return new Set(components.map((c) => c.id).filter((id) => kept.has(id) || !onPrivate.has(id)));
}

/** Refuses a parent that does not exist or that would make a cycle. */
export function checkParent(components: readonly Component[], id: string, parentId: string | null): void {
  if (parentId === null) return;
  if (parentId === id) throw invalidField("parent_id", "a component cannot be its own parent");
  if (!components.some((c) => c.id === parentId)) {
    throw new AmendsError("UNKNOWN_REFERENCE", `parent_id: no component with id "${parentId}"`, [
      { field: "parent_id", message: `no component with id "${parentId}"` },
    ]);
  }
  if (subtreeIds(components, id).has(parentId)) {
    throw conflict(`parent_id: "${parentId}" is inside "${id}", which would make a cycle`, "parent_id");
  }
}
