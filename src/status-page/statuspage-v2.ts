/**
 * The public page in the documented shape of Atlassian Statuspage's public API v2
 * (`/api/v2/summary.json` and friends), so clients written for Statuspage read Amends unchanged.
 *
 * Statuspage has two levels (groups and components); our tree has any depth. Every component
 * with children is sent as a group (`group: true`, `components: [child ids]`) and every child
 * carries `group_id` = its parent, which readers of either depth understand.
 */
import { type ComponentNode, flattenTree } from "../core/components.ts";
import type { Incident } from "../core/incidents.ts";
import { type Maintenance, statuspageStatus } from "../core/maintenance.ts";
import type { PublicState } from "./state.ts";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function pageJson(state: PublicState, baseUrl: string) {
  return {
    id: state.workspace.id,
    name: state.name,
    url: state.workspace.publicUrl ?? baseUrl,
    time_zone: state.workspace.timeZone,
    updated_at: state.updatedAt.toISOString(),
  };
}

export function componentV2(node: ComponentNode, pageId: string) {
  const c = node.component;
  return {
    id: c.id,
    name: c.name,
    status: node.status,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    position: c.position + 1,
    description: c.description,
    showcase: node.children.length === 0,
    start_date: c.createdAt.toISOString().slice(0, 10),
    group_id: c.parentId,
    page_id: pageId,
    group: node.children.length > 0,
    only_show_if_degraded: false,
    ...(node.children.length > 0 && { components: node.children.map((n) => n.component.id) }),
  };
}

export function incidentV2(incident: Incident, state: PublicState, baseUrl: string) {
  const pageId = state.workspace.id;
  const nodes = new Map(flattenTree(state.tree).map((n) => [n.component.id, n]));
  return {
    id: incident.id,
    name: incident.title,
    status: incident.status,
    created_at: incident.createdAt.toISOString(),
    updated_at: incident.updatedAt.toISOString(),
    monitoring_at: iso(incident.monitoringAt),
    resolved_at: iso(incident.resolvedAt),
    impact: incident.impact,
    shortlink: `${state.workspace.publicUrl ?? baseUrl}/incidents/${encodeURIComponent(incident.id)}`,
    started_at: incident.startedAt.toISOString(),
    page_id: pageId,
    incident_updates: [...incident.updates].reverse().map((u) => {
      // Components this page does not show are left out of what it says changed.
      const affected = u.components.filter((c) => nodes.has(c.componentId));
      return {
        id: u.id,
        status: u.status,
        body: u.body,
        incident_id: incident.id,
        created_at: u.createdAt.toISOString(),
        updated_at: u.createdAt.toISOString(),
        display_at: u.createdAt.toISOString(),
        affected_components:
          affected.length > 0
            ? affected.map((c) => ({
                code: c.componentId,
                name: nodes.get(c.componentId)!.component.name,
                old_status: c.oldStatus,
                new_status: c.newStatus,
              }))
            : null,
        deliver_notifications: true,
        custom_tweet: null,
        tweet_id: null,
      };
    }),
    components: incident.components.flatMap((c) => {
      const node = nodes.get(c.componentId);
      return node ? [componentV2(node, pageId)] : [];
    }),
  };
}

export const statusJson = (state: PublicState, baseUrl: string) => ({
  page: pageJson(state, baseUrl),
  status: state.indicator,
});

export const componentsJson = (state: PublicState, baseUrl: string) => ({
  page: pageJson(state, baseUrl),
  components: flattenTree(state.tree).map((n) => componentV2(n, state.workspace.id)),
});

export const incidentsJson = (state: PublicState, incidents: Incident[], baseUrl: string) => ({
  page: pageJson(state, baseUrl),
  incidents: incidents.map((i) => incidentV2(i, state, baseUrl)),
});

export function maintenanceV2(m: Maintenance, state: PublicState, baseUrl: string) {
  const pageId = state.workspace.id;
  const nodes = new Map(flattenTree(state.tree).map((n) => [n.component.id, n]));
  const status = statuspageStatus(m);
  const at = (m.startedAt ?? m.createdAt).toISOString();
  return {
    id: m.id,
    name: m.title,
    status,
    created_at: m.createdAt.toISOString(),
    updated_at: m.updatedAt.toISOString(),
    monitoring_at: null,
    resolved_at: iso(m.completedAt),
    impact: "maintenance",
    shortlink: `${state.workspace.publicUrl ?? baseUrl}/#maintenance-${encodeURIComponent(m.id)}`,
    started_at: (m.startedAt ?? m.startsAt).toISOString(),
    page_id: pageId,
    incident_updates: [
      {
        id: `${m.id}-${status}`,
        status,
        body: m.body,
        incident_id: m.id,
        created_at: at,
        updated_at: m.updatedAt.toISOString(),
        display_at: at,
        affected_components: null,
        deliver_notifications: true,
        custom_tweet: null,
        tweet_id: null,
      },
    ],
    components: m.components.flatMap((id) => {
      const node = nodes.get(id);
      return node ? [componentV2(node, pageId)] : [];
    }),
    scheduled_for: m.startsAt.toISOString(),
    scheduled_until: m.endsAt.toISOString(),
  };
}

const upcoming = (m: Maintenance) => m.status === "scheduled";
const active = (m: Maintenance) => m.status === "in_progress" || m.status === "overran";

export const scheduledMaintenancesJson =
  (which: "all" | "upcoming" | "active") => (state: PublicState, baseUrl: string) => ({
    page: pageJson(state, baseUrl),
    scheduled_maintenances: state.maintenances
      .filter(
        (m) =>
          m.status !== "cancelled" && (which === "all" || (which === "upcoming" ? upcoming(m) : active(m))),
      )
      .map((m) => maintenanceV2(m, state, baseUrl)),
  });

export const summaryJson = (state: PublicState, baseUrl: string) => ({
  page: pageJson(state, baseUrl),
  status: state.indicator,
  components: componentsJson(state, baseUrl).components,
  incidents: state.open.map((i) => incidentV2(i, state, baseUrl)),
  scheduled_maintenances: state.maintenances
    .filter((m) => upcoming(m) || active(m))
    .map((m) => maintenanceV2(m, state, baseUrl)),
});
