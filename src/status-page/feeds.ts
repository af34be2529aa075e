/** RSS 2.0 and Atom feeds of the latest incidents (one item per incident, its timeline inside). */
import { Feed } from "feed";
import type { Incident } from "../core/incidents.ts";
import { escapeHtml } from "../lib/html.ts";
import type { PublicState } from "./state.ts";

const STATUS: Record<string, string> = {
  investigating: "Investigating",
  identified: "Identified",
  monitoring: "Monitoring",
  resolved: "Resolved",
};

function timeline(incident: Incident): string {
  return [...incident.updates]
    .reverse()
    .map(
      (u) =>
        `<p><small>${u.createdAt.toISOString()}</small><br><strong>${STATUS[u.status]}</strong> - ${escapeHtml(u.body)}</p>`,
    )
    .join("");
}

export function incidentFeed(state: PublicState, baseUrl: string): Feed {
  const site = state.workspace.publicUrl ?? baseUrl;
  const feed = new Feed({
    title: `${state.workspace.name} status - incident history`,
    description: `Incidents and updates from the ${state.workspace.name} status page`,
    id: `${site}/`,
    link: `${site}/`,
    language: "en",
    updated: state.updatedAt,
    generator: "Amends",
    copyright: state.workspace.name,
    feedLinks: { rss: `${site}/history.rss`, atom: `${site}/history.atom` },
  });
  for (const incident of state.latest) {
    const link = `${site}/incidents/${encodeURIComponent(incident.id)}`;
    feed.addItem({
      title: incident.resolvedAt ? `${incident.title} (resolved)` : incident.title,
      id: link,
      link,
      date: incident.updatedAt,
      published: incident.startedAt,
      description: incident.updates.at(-1)?.body ?? "",
      content: timeline(incident),
    });
  }
  return feed;
}
