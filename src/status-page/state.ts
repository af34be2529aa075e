/**
 * Everything a public page shows, loaded in one place so the HTML page and the
 * Statuspage-compatible JSON always agree.
 */

import { and, eq, gte, isNull, or } from "drizzle-orm";
import { loadComponentTree } from "../components/store.ts";
import type { ComponentNode, ComponentStatus } from "../core/components.ts";
import { flattenTree } from "../core/components.ts";
import type { Incident } from "../core/incidents.ts";
import { isOpen } from "../core/incidents.ts";
import type { Maintenance } from "../core/maintenance.ts";
import { type Indicator, pageIndicator } from "../core/page-status.ts";
import type { StatusSpan } from "../core/uptime.ts";
import { listIncidents } from "../incidents/store.ts";
import { listMaintenances } from "../maintenance/store.ts";
import { listPublishedReports, type PostIncidentReport } from "../postmortems/store.ts";
import type { Db } from "../storage/database.ts";
import { monitorOutages } from "../storage/schema.ts";
import type { Workspace } from "../workspaces/store.ts";

export const HISTORY_DAYS = 14;
/** Days of the uptime bars. */
export const UPTIME_DAYS = 90;

export interface PublicState {
  workspace: Workspace;
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
}

export async function loadPublicState(db: Db, workspace: Workspace, now: Date): Promise<PublicState> {
  const since = now.getTime() - HISTORY_DAYS * 86_400_000;
  const [tree, history, latest, maintenances, postmortems, outages] = await Promise.all([
    loadComponentTree(db, workspace.id),
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
  ]);
  const incidents = history.filter((i) => !i.resolvedAt || i.resolvedAt.getTime() >= since);
  const open = incidents.filter(isOpen);
  const recent = incidents.filter((i) => !isOpen(i)).sort((a, b) => +b.resolvedAt! - +a.resolvedAt!);
  const times = [
    workspace.createdAt,
    ...flattenTree(tree).map((n) => n.component.updatedAt),
    ...incidents.map((i) => i.updatedAt),
    ...postmortems.map((p) => p.updatedAt),
  ];
  return {
    workspace,
    generatedAt: now,
    tree,
    indicator: pageIndicator(
      tree.map((n) => n.status),
      open.map((i) => i.impact),
    ),
    open,
    recent,
    latest,
    history,
    maintenances,
    measured: outages.flatMap((o) =>
      o.componentIds.map((componentId) => ({
        componentId,
        status: o.status as ComponentStatus,
        start: o.startedAt.getTime(),
        end: (o.endedAt ?? now).getTime(),
      })),
    ),
    postmortems: new Map(postmortems.map((p) => [p.incidentId, p])),
    updatedAt: new Date(Math.max(...times.map((t) => t.getTime()))),
  };
}

/**
 * What one page of the workspace shows: its components (each with its subtree, as roots), the
 * incidents and maintenance that touch them, and the indicator over those alone.
 */
export function pageState(state: PublicState, componentIds: readonly string[]): PublicState {
  const wanted = new Set(componentIds);
  const roots = flattenTree(state.tree).filter((n) => wanted.has(n.component.id));
  const shown = new Set(flattenTree(roots).map((n) => n.component.id));
  const touches = (i: Incident) => i.components.some((c) => shown.has(c.componentId));
  const open = state.open.filter(touches);
  return {
    ...state,
    tree: roots,
    indicator: pageIndicator(
      roots.map((n) => n.status),
      open.map((i) => i.impact),
    ),
    open,
    recent: state.recent.filter(touches),
    latest: state.latest.filter(touches),
    history: state.history.filter(touches),
    maintenances: state.maintenances.filter((m) => m.components.some((c) => shown.has(c))),
  };
}
