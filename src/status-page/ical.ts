/** An iCalendar feed of scheduled maintenance (all of it, or one component's subtree). */
import ical, { ICalEventStatus } from "ical-generator";
import { flattenTree, subtreeIds } from "../core/components.ts";
import type { PublicState } from "./state.ts";

export function maintenanceCalendar(state: PublicState, baseUrl: string, componentId?: string): string {
  const site = state.workspace.publicUrl ?? baseUrl;
  const nodes = flattenTree(state.tree).map((n) => n.component);
  const wanted = componentId ? subtreeIds(nodes, componentId) : undefined;
  // A component this page does not show is not named, nor is the query echoed.
  const named = nodes.find((c) => c.id === componentId)?.name;
  const cal = ical({
    name: `${state.name} maintenance${named ? ` (${named})` : ""}`,
    prodId: { company: "Amends", product: "status-page", language: "EN" },
    url: `${site}/`,
    ttl: 900,
  });
  for (const m of state.maintenances) {
    if (wanted && !m.components.some((id) => wanted.has(id))) continue;
    cal.createEvent({
      id: `${m.id}@${new URL(site).host}`,
      start: m.startsAt,
      end: m.endsAt,
      stamp: m.updatedAt,
      summary: m.title,
      description: m.body,
      url: `${site}/#maintenance-${encodeURIComponent(m.id)}`,
      status: m.status === "cancelled" ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
    });
  }
  return cal.toString();
}
