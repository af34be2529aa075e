/**
 * The public status page as one server-rendered HTML document: no JavaScript, collapsible
 * groups with <details>, times in <time datetime> shown in the workspace's time zone.
 */
import {
  COMPONENT_STATUS_LABELS,
  type ComponentNode,
  type ComponentStatus,
  flattenTree,
} from "../core/components.ts";
import type { Incident, IncidentStatus } from "../core/incidents.ts";
import { type Html, html, trusted } from "../lib/html.ts";
import { HISTORY_DAYS, type PublicState } from "./state.ts";

const INCIDENT_STATUS_LABELS: Record<IncidentStatus, string> = {
  investigating: "Investigating",
  identified: "Identified",
  monitoring: "Monitoring",
  resolved: "Resolved",
};

const STYLE = `
:root{--ok:#1a7f37;--maint:#0b5cad;--minor:#9a6700;--major:#bc4c00;--critical:#c0162b;--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#fff}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#f6f8fa}
main{max-width:56rem;margin:0 auto;padding:1rem}header h1{font-size:1.5rem;margin:.5rem 0}
a{color:#0550ae}.banner{padding:1rem 1.25rem;border-radius:.5rem;color:#fff;font-weight:600;font-size:1.125rem;margin:1rem 0}
.i-none{background:var(--ok)}.i-maintenance{background:var(--maint)}.i-minor{background:var(--minor)}.i-major{background:var(--major)}.i-critical{background:var(--critical)}
section{background:var(--bg);border:1px solid var(--line);border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}
h2{font-size:1.125rem;margin:0 0 .75rem}h3{font-size:1rem;margin:0}
ul.tree,ul.tree ul{list-style:none;margin:0;padding:0}ul.tree ul{padding-left:1.25rem}
.row{display:flex;justify-content:space-between;gap:1rem;padding:.35rem 0;border-bottom:1px solid #eaeef2}
summary{cursor:pointer}summary .row{display:inline-flex;width:calc(100% - 1.25rem)}
.s{font-size:.875rem;white-space:nowrap}.s-operational{color:var(--ok)}.s-under_maintenance{color:var(--maint)}
.s-degraded_performance{color:var(--minor)}.s-partial_outage{color:var(--major)}.s-major_outage{color:var(--critical)}
.incident{border-left:4px solid var(--line);padding-left:.75rem;margin:1rem 0}.incident.impact-minor{border-color:var(--minor)}
.incident.impact-major{border-color:var(--major)}.incident.impact-critical{border-color:var(--critical)}
.meta{color:var(--muted);font-size:.875rem}.promise{margin:.5rem 0;font-size:.9375rem}.overdue{color:var(--critical);font-weight:600}
ol.timeline{list-style:none;padding:0;margin:.5rem 0}ol.timeline li{margin:.5rem 0}.update-status{font-weight:600}
.body{white-space:pre-wrap;margin:.125rem 0}footer{color:var(--muted);font-size:.875rem;margin:2rem 0}
.region{color:var(--muted);font-size:.8125rem}.stale{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .75rem;border-radius:.375rem}
`;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatTime(d: Date, timeZone: string): string {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      day: "numeric",
      month: "short",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZoneName: "short",
    });
    formatters.set(timeZone, f);
  }
  return f.format(d);
}

const time = (d: Date, tz: string) => html`<time datetime="${d.toISOString()}">${formatTime(d, tz)}</time>`;
const statusLabel = (s: ComponentStatus) => html`<span class="s s-${s}">${COMPONENT_STATUS_LABELS[s]}</span>`;

function componentItem(node: ComponentNode, parentRegion: string | null): Html {
  const region =
    node.region && node.region !== parentRegion ? html` <span class="region">(${node.region})</span>` : "";
  const row = html`<span class="row"><span>${node.component.name}${region}</span>${statusLabel(node.status)}</span>`;
  if (node.children.length === 0) return html`<li>${row}</li>`;
  const open = node.status !== "operational" || node.component.parentId === null;
  return html`<li><details${open ? trusted(" open") : ""}><summary>${row}</summary><ul>${node.children.map(
    (c) => componentItem(c, node.region),
  )}</ul></details></li>`;
}

/** "End rental (Milan, Rome)": siblings grouped under their parent, the root left out. */
function describeAffected(ids: readonly string[], tree: readonly ComponentNode[]): string[] {
  const nodes = new Map(flattenTree(tree).map((n) => [n.component.id, n]));
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const path = nodes.get(id)?.path ?? [id];
    const parent = path.length > 2 ? path.slice(1, -1).join(" › ") : "";
    groups.set(parent, [...(groups.get(parent) ?? []), path.at(-1)!]);
  }
  return [...groups].map(([parent, names]) =>
    parent ? `${parent} (${names.sort().join(", ")})` : names.sort().join(", "),
  );
}

function incidentBlock(incident: Incident, state: PublicState, now: Date): Html {
  const tz = state.workspace.timeZone;
  const overdue = incident.nextUpdateBy && incident.nextUpdateBy.getTime() < now.getTime();
  const promises = [
    incident.eta ? html`<div>Expected fix: ${time(incident.eta, tz)}</div>` : "",
    incident.nextUpdateBy
      ? overdue
        ? html`<div class="overdue">The next update was promised by ${time(incident.nextUpdateBy, tz)} and is overdue.</div>`
        : html`<div>Next update by ${time(incident.nextUpdateBy, tz)}</div>`
      : "",
  ];
  const affected = describeAffected(
    incident.components.map((c) => c.componentId),
    state.tree,
  );
  return html`<article class="incident impact-${incident.impact}" id="incident-${incident.id}">
<h3><a href="/incidents/${encodeURIComponent(incident.id)}">${incident.title}</a></h3>
<div class="meta">${INCIDENT_STATUS_LABELS[incident.status]} · started ${time(incident.startedAt, tz)}${
    incident.resolvedAt ? html` · resolved ${time(incident.resolvedAt, tz)}` : ""
  }${affected.length ? html` · affects ${affected.join(", ")}` : ""}</div>
${incident.resolvedAt ? "" : html`<div class="promise">${promises}</div>`}
<ol class="timeline" reversed>${[...incident.updates].reverse().map(
    (
      u,
    ) => html`<li><span class="update-status">${INCIDENT_STATUS_LABELS[u.status]}</span> — ${time(u.createdAt, tz)}
<p class="body">${u.body}</p></li>`,
  )}</ol></article>`;
}

function layout(title: string, workspaceName: string, content: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>
<link rel="alternate" type="application/json" href="/api/v2/summary.json">
<link rel="alternate" type="application/rss+xml" title="Incident history (RSS)" href="/history.rss">
<link rel="alternate" type="application/atom+xml" title="Incident history (Atom)" href="/history.atom">
<style>${trusted(STYLE)}</style></head>
<body><main>
<header><h1><a href="/">${workspaceName} status</a></h1></header>
${content}
</main></body></html>`.value;
}

export function renderStatusPage(state: PublicState, now: Date, staleSince: number | null = null): string {
  const { workspace, indicator } = state;
  const minutes = Math.max(1, Math.round((now.getTime() - state.generatedAt.getTime()) / 60_000));
  return layout(
    `${workspace.name} status`,
    workspace.name,
    html`${
      staleSince !== null
        ? html`<p class="stale" role="alert">Live status could not be refreshed. This is the status as of ${time(state.generatedAt, workspace.timeZone)} (${minutes} min ago).</p>`
        : ""
    }<div class="banner i-${indicator.indicator}" role="status">${indicator.description}</div>
${
  state.open.length
    ? html`<section aria-labelledby="open-h"><h2 id="open-h">Current incidents</h2>${state.open.map((i) =>
        incidentBlock(i, state, now),
      )}</section>`
    : ""
}
<section aria-labelledby="components-h"><h2 id="components-h">Components</h2>
${state.tree.length ? html`<ul class="tree">${state.tree.map((n) => componentItem(n, null))}</ul>` : html`<p>No components yet.</p>`}
</section>
<section aria-labelledby="past-h"><h2 id="past-h">Past incidents (last ${HISTORY_DAYS} days)</h2>
${state.recent.length ? state.recent.map((i) => incidentBlock(i, state, now)) : html`<p>No incidents in the last ${HISTORY_DAYS} days.</p>`}
</section>
<footer>Updated ${time(state.updatedAt, workspace.timeZone)} · <a href="/api/v2/summary.json">JSON API</a> · <a href="/history.rss">RSS</a> · <a href="/history.atom">Atom</a> · Powered by Amends</footer>`,
  );
}

/** One incident on a page of its own: the target of Statuspage's `shortlink`. */
export function renderIncidentPage(incident: Incident, state: PublicState, now: Date): string {
  return layout(
    `${incident.title} · ${state.workspace.name} status`,
    state.workspace.name,
    html`<section>${incidentBlock(incident, state, now)}</section><footer><a href="/">← Current status</a></footer>`,
  );
}

export function renderErrorPage(status: number, message: string): string {
  return layout(
    `${status}`,
    "",
    html`<section><h2>${status}</h2><p>${message}</p><p><a href="/">Current status</a></p></section>`,
  );
}
