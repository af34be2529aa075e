/**
 * Everything a public page shows, loaded in one place so the HTML page and the
 * Statuspage-compatible JSON always agree.
 */

import { and, eq, gte, isNull, or } from "drizzle-orm";
import { listComponents, openIncidentStatuses } from "../components/store.ts";
import type { ComponentNode, ComponentStatus } from "../core/components.ts";
import { buildTree, flattenTree } from "../core/components.ts";
import type { Incident } from "../core/incidents.ts";
import { IMPACTS, impactOf, isOpen } from "../core/incidents.ts";
import type { Maintenance } from "../core/maintenance.ts";
import { type Indicator, pageIndicator } from "../core/page-status.ts";
import { ONGOING, type StatusSpan } from "../core/uptime.ts";
import { listIncidents } from "../incidents/store.ts";
import { listMaintenances } from "../maintenance/store.ts";
import { listPublishedReports, type PostIncidentReport } from "../postmortems/store.ts";
import type { Db } from "../storage/database.ts";
import { monitorOutages } from "../storage/schema.ts";
import type { Workspace } from "../workspaces/store.ts";
import { loadPageBrand, type PageBrand } from "./brand.ts";
import { listPages, visibleToPublic } from "./pages.ts";

export const HISTORY_DAYS = 14;
/** Days of the uptime bars. */
export const UPTIME_DAYS = 90;

export interface PublicState {
  workspace: Workspace;
  /** The name the page goes by: the brand's, else the workspace's. */
  name: string;
  /** The page's look, with the images it links (served from here, not the database). */
  brand: PageBrand;
  generatedAt: Date;
  tree: ComponentNode[];
  indicator: { indicator: Indicator; description: string };
  open: Incident[];
  /** Resolved in the last HISTORY_DAYS days, newest first. */
  recent: Incident[];
  /** The 50 latest incidents, whatever their age: Statuspage's incidents.json. */
  latest: Incident[];
  /** Open, or resolved in the last UPTIME_DAYS days: the uptime bars. */
  history: Incident[];
  /** Maintenance to come, under way, or ended in the last HISTORY_DAYS days, by start. */
  maintenances: Maintenance[];
  /** What monitors measured in the last UPTIME_DAYS days: confirmed failures per component. */
  measured: StatusSpan[];
  /** Published post-incident reports, by incident id (the latest 200). */
  postmortems: Map<string, PostIncidentReport>;
  /** Latest change anywhere on the page. */
  updatedAt: Date;
  /** Whose components' incidents and maintenance this state may show (see `shownIncident`). */
  scope: Scope;
}

/**
 * Components a state may not show (`hidden`: private ones, on public pages), and, for a page
 * showing chosen components, those it shows (`only`). An incident or a maintenance window with
 * no component is the whole workspace's: on the main page, not on the others.
 */
export interface Scope {
  hidden: ReadonlySet<string>;
  only?: ReadonlySet<string>;
}

const inScope = (scope: Scope, id: string) => !scope.hidden.has(id) && (!scope.only || scope.only.has(id));
const unscopedShown = (scope: Scope) => !scope.only;

/**
 * An incident as this state's readers may see it: only its components in scope (an incident
 * spanning public and private components shows its public part), or nothing at all when it
 * touches none of them.
 */
export function shownIncident(scope: Scope, incident: Incident): Incident | undefined {
  const shows = (c: { componentId: string }) => inScope(scope, c.componentId);
  const components = incident.components.filter(shows);
  if (components.length === 0 && (incident.components.length > 0 || !unscopedShown(scope))) return undefined;
  if (
    components.length === incident.components.length &&
    incident.updates.every((u) => u.components.every(shows))
  )
    return incident;
  const updates = incident.updates.map((u) => ({ ...u, components: u.components.filter(shows) }));
  // The impact the public reads is no worse than its own part ever was: the rest may be why it is high.
  const ownPart = impactOf([
    ...components,
    ...updates.flatMap((u) => u.components.map((c) => ({ componentId: c.componentId, status: c.newStatus }))),
  ]);
  const impact = IMPACTS.indexOf(ownPart) < IMPACTS.indexOf(incident.impact) ? ownPart : incident.impact;
  return { ...incident, impact, components, updates };
}

function shownMaintenance(scope: Scope, m: Maintenance): Maintenance | undefined {
  const components = m.components.filter((id) => inScope(scope, id));
  if (components.length === 0 && (m.components.length > 0 || !unscopedShown(scope))) return undefined;
  return components.length === m.components.length ? m : { ...m, components };
}

const shownAll = <T>(list: readonly T[], show: (t: T) => T | undefined) =>
  list.flatMap((t) => {
    const shown = show(t);
    return shown ? [shown] : [];
  });

/**
 * The workspace's public face: everything but what only private pages show. A private page
 * (`audience: "everyone"`) starts from all of it.
 */
export async function loadPublicState(
  db: Db,
  workspace: Workspace,
  now: Date,
  audience: "public" | "everyone" = "public",
): Promise<PublicState> {
  const since = now.getTime() - HISTORY_DAYS * 86_400_000;
  const [components, statuses, pages, history, latest, maintenances, postmortems, outages, brand] =
    await Promise.all([
      listComponents(db, workspace.id),
      openIncidentStatuses(db, workspace.id),
      audience === "public" ? listPages(db, workspace.id) : [],
      listIncidents(db, workspace.id, {
        resolvedSince: new Date(now.getTime() - UPTIME_DAYS * 86_400_000),
        limit: 2_000,
      }),
      listIncidents(db, workspace.id, { limit: 50 }),
      listMaintenances(db, workspace.id, new Date(since)),
      listPublishedReports(db, workspace.id),
      db
        .select()
        .from(monitorOutages)
        .where(
          and(
            eq(monitorOutages.workspaceId, workspace.id),
            or(
              isNull(monitorOutages.endedAt),
              gte(monitorOutages.endedAt, new Date(now.getTime() - UPTIME_DAYS * 86_400_000)),
            ),
          ),
        ),
      loadPageBrand(db, workspace.id, workspace.brand),
    ]);
  const visible = visibleToPublic(components, pages);
  const scope: Scope = { hidden: new Set(components.map((c) => c.id).filter((id) => !visible.has(id))) };
  const tree = buildTree(
    components.filter((c) => visible.has(c.id)),
    statuses,
  );
  const shown = shownAll(history, (i) => shownIncident(scope, i));
  const incidents = shown.filter((i) => !i.resolvedAt || i.resolvedAt.getTime() >= since);
  const open = incidents.filter(isOpen);
  const recent = incidents.filter((i) => !isOpen(i)).sort((a, b) => +b.resolvedAt! - +a.resolvedAt!);
  const shownLatest = shownAll(latest, (i) => shownIncident(scope, i));
  const shownIds = new Set([...shown, ...shownLatest].map((i) => i.id));
  const times = [
    workspace.createdAt,
    ...flattenTree(tree).map((n) => n.component.updatedAt),
    ...incidents.map((i) => i.updatedAt),
    ...postmortems.filter((p) => shownIds.has(p.incidentId)).map((p) => p.updatedAt),
  ];
  return {
    workspace,
    name: brand.name ?? workspace.name,
    brand,
    generatedAt: now,
    tree,
    indicator: pageIndicator(
      tree.map((n) => n.status),
      open.map((i) => i.impact),
    ),
    open,
    recent,
    latest: shownLatest,
    history: shown,
    maintenances: shownAll(maintenances, (m) => shownMaintenance(scope, m)),
    measured: outages.flatMap((o) =>
      o.componentIds
        .filter((componentId) => visible.has(componentId))
        .map((componentId) => ({
          componentId,
          status: o.status as ComponentStatus,
          start: o.startedAt.getTime(),
          end: o.endedAt?.getTime() ?? ONGOING,
        })),
    ),
    postmortems: new Map(postmortems.map((p) => [p.incidentId, p])),
    updatedAt: new Date(Math.max(...times.map((t) => t.getTime()))),
    scope,
  };
}

/**
 * What one page of the workspace shows: its components (each with its subtree, as roots), the
 * incidents and maintenance that touch them or what they belong to (only that part of them),
 * and the indicator over those alone.
 */
export function pageState(state: PublicState, componentIds: readonly string[]): PublicState {
  const wanted = new Set(componentIds);
  const roots = flattenTree(state.tree).filter((n) => wanted.has(n.component.id));
  // What fails above a page's components fails for its readers too (see core/components.ts).
  const scope: Scope = {
    ...state.scope,
    only: new Set(flattenTree(roots).flatMap((n) => [n.component.id, ...n.ancestorIds])),
  };
  const shown = (list: Incident[]) => shownAll(list, (i) => shownIncident(scope, i));
  const open = shown(state.open);
  return {
    ...state,
    tree: roots,
    indicator: pageIndicator(
      roots.map((n) => n.status),
      open.map((i) => i.impact),
    ),
    open,
    recent: shown(state.recent),
    latest: shown(state.latest),
    history: shown(state.history),
    maintenances: shownAll(state.maintenances, (m) => shownMaintenance(scope, m)),
    measured: state.measured.filter((s) => scope.only!.has(s.componentId)),
    scope,
  };
}
