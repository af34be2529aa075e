/**
 * RSS 2.0 and Atom feeds of the latest incidents (one item per incident, its timeline inside)
 * and of maintenance (one item per window: when, what it touches, how it went), newest first.
 *
 * Operator text never becomes markup in a feed reader: titles and summaries are text (Atom
 * `type="text"`, RSS titles as plain text, RSS descriptions as escaped HTML) and the timeline
 * (Atom content, RSS content:encoded) is HTML built from escaped text only.
 */
import { Feed } from "feed";
import { flattenTree } from "../core/components.ts";
import type { Incident } from "../core/incidents.ts";
import type { Maintenance } from "../core/maintenance.ts";
import { formatMessageTime } from "../core/wording.ts";
import { escapeHtml } from "../lib/html.ts";
import type { PublicState } from "./state.ts";

const STATUS: Record<string, string> = {
  investigating: "Investigating",
  identified: "Identified",
  monitoring: "Monitoring",
  resolved: "Resolved",
};

/** Characters XML 1.0 cannot carry at all (a reader would reject the whole feed). */
const NOT_XML = /(?![\t\n\r])\p{Cc}|\p{Cs}|[\uFFFE\uFFFF]/gu;
const xmlSafe = (s: string) => s.replace(NOT_XML, "");

/** Times read by people: "4 Dec 2026, 16:00 CET", in the workspace's zone (the feeds are in English). */
const timeIn = (timeZone: string) => (at: Date) => formatMessageTime(at, "en", timeZone);

function timeline(incident: Incident, time: (at: Date) => string): string {
  return [...incident.updates]
    .reverse()
    .map(
      (u) =>
        `<p><small>${time(u.createdAt)}</small><br><strong>${STATUS[u.status]}</strong> - ${escapeHtml(u.body)}</p>`,
    )
    .join("");
}

const MAINTENANCE_STATUS: Record<string, string> = {
  scheduled: "Scheduled",
  in_progress: "In progress",
  completed: "Completed",
  cancelled: "Cancelled",
  overran: "Overran",
};
/** Newest items kept in a feed. */
const FEED_ITEMS = 100;

function maintenanceContent(m: Maintenance, names: Map<string, string>, time: (at: Date) => string): string {
  const affects = m.components
    .flatMap((id) => (names.has(id) ? [escapeHtml(names.get(id)!)] : []))
    .join(", ");
  return [
    `<p><strong>${MAINTENANCE_STATUS[m.status] ?? m.status}</strong> - ${time(m.startsAt)} to ${time(m.endsAt)}</p>`,
    affects ? `<p>Affects: ${affects}</p>` : "",
    m.body ? `<p>${escapeHtml(m.body)}</p>` : "",
  ].join("");
}

function incidentFeed(state: PublicState, baseUrl: string): Feed {
  const site = state.workspace.publicUrl ?? baseUrl;
  const maintenanceUpdated = state.maintenances.map((m) => m.updatedAt.getTime());
  const feed = new Feed({
    title: xmlSafe(`${state.name} status - incident and maintenance history`),
    // "The Fleet" already has its article: no "the" in front of the name.
    description: xmlSafe(`Incidents, updates and maintenance on the status page of ${state.name}`),
    id: `${site}/`,
    link: `${site}/`,
    language: "en",
    updated: new Date(Math.max(state.updatedAt.getTime(), ...maintenanceUpdated)),
    generator: "Amends",
    copyright: xmlSafe(state.name),
    feedLinks: { rss: `${site}/history.rss`, atom: `${site}/history.atom` },
  });
  const names = new Map(flattenTree(state.tree).map((n) => [n.component.id, n.component.name]));
  const time = timeIn(state.workspace.timeZone);
  const items = [
    ...state.latest.map((incident) => {
      const link = `${site}/incidents/${encodeURIComponent(incident.id)}`;
      return {
        title: incident.resolvedAt ? `${incident.title} (resolved)` : incident.title,
        id: link,
        link,
        date: incident.updatedAt,
        published: incident.startedAt,
        description: incident.updates.at(-1)?.body ?? "",
        content: timeline(incident, time),
      };
    }),
    ...state.maintenances.map((m) => ({
      title: `Maintenance: ${m.title} (${(MAINTENANCE_STATUS[m.status] ?? m.status).toLowerCase()})`,
      id: `${site}/#maintenance-${encodeURIComponent(m.id)}`,
      link: `${site}/#maintenance-${encodeURIComponent(m.id)}`,
      date: m.updatedAt,
      published: m.createdAt,
      description: `${time(m.startsAt)} to ${time(m.endsAt)}`,
      content: maintenanceContent(m, names, time),
    })),
  ].sort((a, b) => b.date.getTime() - a.date.getTime() || a.id.localeCompare(b.id));
  for (const item of items.slice(0, FEED_ITEMS))
    feed.addItem({
      ...item,
      title: xmlSafe(item.title),
      description: xmlSafe(item.description),
      content: xmlSafe(item.content),
    });
  return feed;
}

/**
 * The `feed` library marks every entry's title and summary `type="html"` and puts our text in
 * CDATA. Our text is plain, so outside the CDATA sections (where operator text lives) those
 * constructs are relabelled `type="text"`: a reader shows `<script>` as the characters typed.
 */
const asTextConstructs = (xml: string) =>
  xml
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part, i) =>
      i % 2 === 1 ? part : part.replace(/<(title|summary) type="html">/g, '<$1 type="text">'),
    )
    .join("");

export const atomFeed = (state: PublicState, baseUrl: string) =>
  asTextConstructs(incidentFeed(state, baseUrl).atom1());

/**
 * RSS titles are plain text (as readers treat them) but a description is HTML: the RSS feed
 * carries each summary escaped, so it reads as the text typed.
 */
export function rssFeed(state: PublicState, baseUrl: string): string {
  const feed = incidentFeed(state, baseUrl);
  for (const item of feed.items) if (item.description) item.description = escapeHtml(item.description);
  return feed.rss2();
}
