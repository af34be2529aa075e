/**
 * The public status page as one server-rendered HTML document: no JavaScript, collapsible
 * groups with <details>, times in <time datetime> shown in the workspace's time zone, the
 * page's words in the reader's language and the operator's text in it when they wrote one.
 */

import { textOnAccent } from "../core/brand.ts";
import { LocalCalendar } from "../core/compensation/time.ts";
import { type ComponentNode, type ComponentStatus, flattenTree } from "../core/components.ts";
import type { Incident } from "../core/incidents.ts";
import type { Indicator } from "../core/page-status.ts";
import { dailyUptime, ONGOING, statusSpans, uptimeFigures, uptimePercent } from "../core/uptime.ts";
import { formatMessageTime, regionNames } from "../core/wording.ts";
import { LANGUAGE_NAMES, LOCALES, type Locale, localized, t } from "../i18n/catalog.ts";
import { type Html, html, linkify, trusted } from "../lib/html.ts";
import { offersSmsSubscriptions } from "../notifications/settings.ts";
import type { PostIncidentReport } from "../postmortems/store.ts";
import { signFormTime } from "../reports/form-token.ts";
import type { PageBrand } from "./brand.ts";
import { HISTORY_DAYS, type PublicState, UPTIME_DAYS } from "./state.ts";

export const STYLE = `
:root{color-scheme:light dark;--ok:#1a7f37;--maint:#0b5cad;--minor:#9a6700;--major:#bc4c00;--critical:#c0162b;--on-status:#fff;--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--rule:#eaeef2;--bg:#f6f8fa;--surface:#fff;--link:#0550ae;--accent:#0550ae;--on-accent:#fff;--pop:#1f2328;--on-pop:#fff;--warn-bg:#fff8c5;--warn-line:#d4a72c}
@media (prefers-color-scheme:dark){:root{--ok:#3fb950;--maint:#58a6ff;--minor:#d29922;--major:#f0883e;--critical:#ff7b72;--on-status:#0d1117;--ink:#e6edf3;--muted:#9198a1;--line:#3d444d;--rule:#262c36;--bg:#0d1117;--surface:#151b23;--link:#4493f8;--accent:#4493f8;--on-accent:#0d1117;--pop:#e6edf3;--on-pop:#0d1117;--warn-bg:#3b2e0a;--warn-line:#9e6a03}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
body{border-top:4px solid var(--accent)}main{max-width:56rem;margin:0 auto;padding:1rem}header h1{font-size:1.5rem;margin:.5rem 0}header h1 a{color:inherit;text-decoration:none;display:inline-flex;align-items:center;gap:.75rem}.logo{height:2.5rem;width:auto;max-width:12rem;object-fit:contain}
a{color:var(--link)}.banner{display:flex;align-items:center;gap:.6rem;padding:1rem 1.25rem;border-radius:.5rem;color:var(--on-status);font-weight:600;font-size:1.125rem;margin:1rem 0}.banner{background:var(--banner)}.banner .icon{width:1.5rem;height:1.5rem;color:var(--on-status);--icon-mark:var(--banner)}
.i-none{--banner:var(--ok)}.i-maintenance{--banner:var(--maint)}.i-minor{--banner:var(--minor)}.i-major{--banner:var(--major)}.i-critical{--banner:var(--critical)}
.icon{width:1em;height:1em;flex:none;vertical-align:-.125em;margin-right:.3em}.defs{position:absolute;width:0;height:0;overflow:hidden}
section{background:var(--surface);border:1px solid var(--line);border-radius:.5rem;padding:1rem 1.25rem;margin:1rem 0}
h2{font-size:1.125rem;margin:0 0 .75rem}h3{font-size:1rem;margin:0}
ul.tree,ul.tree ul{list-style:none;margin:0;padding:0}ul.tree ul{padding-left:1.25rem}
.row{display:flex;justify-content:space-between;gap:1rem;padding:.35rem 0;border-bottom:1px solid var(--rule)}
summary{cursor:pointer}summary .row{display:inline-flex;width:calc(100% - 1.25rem)}
.s{font-size:.875rem;white-space:nowrap;display:inline-flex;align-items:center}.s-operational{color:var(--ok)}.s-under_maintenance{color:var(--maint)}
.s-degraded_performance{color:var(--minor)}.s-partial_outage{color:var(--major)}.s-major_outage{color:var(--critical)}
.incident{border-left:4px solid var(--line);padding-left:.75rem;margin:1rem 0}.incident.impact-minor{border-color:var(--minor)}
.incident.impact-major{border-color:var(--major)}.incident.impact-critical{border-color:var(--critical)}.incident.maintenance{border-color:var(--maint)}
.meta{color:var(--muted);font-size:.875rem}.promise{margin:.5rem 0;font-size:.9375rem}.overdue{color:var(--critical);font-weight:600}
ol.timeline{list-style:none;padding:0;margin:.5rem 0}ol.timeline li{margin:.5rem 0}.update-status{font-weight:600}
.body{white-space:pre-wrap;margin:.125rem 0}[hidden]{display:none!important}.subscribe{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
input,select,textarea,button{color:inherit;background:var(--surface);border:1px solid var(--line);border-radius:.375rem}button{background:var(--accent);border-color:var(--accent);color:var(--on-accent);font-weight:600;cursor:pointer}
.subscribe input,.subscribe button{font:inherit;min-height:2.75rem;padding:0 .75rem}.subscribe input{flex:1 1 14rem}
.subscribe-form{display:grid;gap:.35rem;max-width:32rem}.subscribe-form input,.subscribe-form button{font:inherit;min-height:2.75rem;padding:0 .75rem}.subscribe-form button{justify-self:start}.subscribe-form p{margin:0}
.choose ul{list-style:none;margin:0;padding-left:1.25rem}.choose fieldset{border:0;padding:0;margin:.5rem 0}.choose legend{font-weight:600}.choose label{display:inline-flex;gap:.4rem;align-items:center;min-height:2rem}.choose input{min-height:auto;padding:0}
.report{display:grid;gap:.35rem;max-width:32rem}.report select,.report input,.report textarea,.report button{font:inherit;min-height:2.75rem;padding:.25rem .75rem}.report button{justify-self:start;margin-top:.5rem}.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
footer{color:var(--muted);font-size:.875rem;margin:2rem 0}
.region{color:var(--muted);font-size:.8125rem}nav.lang{font-size:.875rem;color:var(--muted)}nav.lang a[aria-current]{font-weight:600;color:var(--ink);text-decoration:none}.stale{background:var(--warn-bg);border:1px solid var(--warn-line);padding:.5rem .75rem;border-radius:.375rem}
.uptime{margin:.25rem 0 .5rem}ol.days{display:flex;gap:2px;list-style:none;margin:0;padding:0}ol.days li{flex:1 1 0;min-width:0;position:relative}
ol.days details summary{display:block;height:1.75rem;border-radius:2px;list-style:none;background:var(--ok)}ol.days summary::-webkit-details-marker{display:none}
.u-under_maintenance summary{background:var(--maint)!important}.u-degraded_performance summary{background:var(--minor)!important}.u-partial_outage summary{background:var(--major)!important}.u-major_outage summary{background:var(--critical)!important}
ol.days summary:hover,ol.days summary:focus-visible,ol.days details[open] summary{outline:2px solid var(--ink);outline-offset:1px}
.pop{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
ol.days li:hover .pop,ol.days summary:focus-visible .pop,ol.days details[open] .pop{z-index:2;top:2.1rem;left:50%;translate:-50% 0;width:max-content;max-width:16rem;height:auto;clip-path:none;overflow:visible;white-space:normal;background:var(--pop);color:var(--on-pop);padding:.4rem .6rem;border-radius:.375rem;font-size:.8125rem;line-height:1.35;box-shadow:0 4px 12px #0004}
ol.days li:nth-child(-n+12) .pop{left:0;translate:none}ol.days li:nth-last-child(-n+12) .pop{left:auto;right:0;translate:none}
.pop .s{color:inherit;font-size:inherit}.pop .icon{--icon-mark:var(--pop)}.pop strong{display:block}.pop-list{display:block}.pop-list span{display:block}
.uptime-legend{display:flex;justify-content:space-between;gap:.5rem;font-size:.75rem;color:var(--muted);margin-top:.2rem}.narrow{display:none}
@media (max-width:40rem){ol.days li:nth-child(-n+60){display:none}ol.days li:nth-child(-n+68) .pop{left:0;translate:none}.wide{display:none}.narrow{display:inline}}
`;

interface View {
  state: PublicState;
  now: Date;
  locale: Locale;
  /** the reader's city (?region=milan): its components come first */
  region?: string;
  /** a region's name as people read it */
  cityName: (region: string) => string;
}

const view = (state: PublicState, now: Date, locale: Locale, region?: string): View => ({
  state,
  now,
  locale,
  region,
  cityName: regionNames(flattenTree(state.tree).map((n) => n.component)),
});

/** The tree with the reader's city first at every level; the order within each group is kept. */
export function regionFirst(nodes: readonly ComponentNode[], region: string | undefined): ComponentNode[] {
  if (!region) return [...nodes];
  const touches = (n: ComponentNode): boolean => n.region === region || n.children.some(touches);
  const sorted = nodes.map((n) => ({ ...n, children: regionFirst(n.children, region) }));
  return [...sorted.filter(touches), ...sorted.filter((n) => !touches(n))];
}

/** The cities of the tree, for the filter and the forms: each region's id and the name people read, by name. */
function regionsOf(
  tree: readonly ComponentNode[],
  name = regionNames(flattenTree(tree).map((n) => n.component)),
): { id: string; name: string }[] {
  const nodes = flattenTree(tree);
  return [...new Set(nodes.map((n) => n.region).filter((r): r is string => Boolean(r)))]
    .map((id) => ({ id, name: name(id) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function cityFilter(v: View): Html | "" {
  const cities = regionsOf(v.state.tree, v.cityName);
  if (cities.length < 2) return "";
  const link = (label: string, region: string | undefined) =>
    html`<a href="${region ? `?region=${encodeURIComponent(region)}` : "?"}"${region === v.region ? trusted(' aria-current="true"') : ""}>${label}</a>`;
  return html`<nav class="lang" aria-label="${t(v.locale, "cityFilter")}">${t(v.locale, "cityFilter")}: ${link(t(v.locale, "allCities"), undefined)}${cities.map(
    (c) => html` · ${link(c.name, c.id)}`,
  )}</nav>`;
}

/** A <time> element as HTML text, for messages that wrap it in translated words. */
const time = (d: Date, v: View) =>
  html`<time datetime="${d.toISOString()}">${formatMessageTime(d, v.locale, v.state.workspace.timeZone)}</time>`;
/** A translated sentence around HTML values: the words are escaped, the values are not. */
function tx(
  v: View,
  key: Parameters<typeof t>[1],
  values: Record<string, Html | string | number> = {},
): Html {
  const marks: Record<string, string> = {};
  const plain: Record<string, string | number> = {};
  for (const [k, val] of Object.entries(values)) {
    if (typeof val === "object") {
      marks[k] = `\uE000${k}\uE000`;
      plain[k] = marks[k]!;
    } else plain[k] = val;
  }
  const text = t(v.locale, key, plain);
  const parts = text.split(/\uE000(\w+)\uE000/);
  return html`${parts.map((p, i) => (i % 2 === 1 ? (values[p] as Html) : p))}`;
}

/**
 * A status's icon beside its colour, so that colour is never the only signal: a check, a
 * wrench, a dash, an exclamation mark and a cross, drawn once per page (see ICONS) and used by name.
 */
const icon = (s: ComponentStatus) =>
  html`<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-${s}"/></svg>`;

const ICON_PATHS: Record<ComponentStatus, string> = {
  operational: "M4.5 8.5l2.5 2.5 4.5-5",
  under_maintenance: "M10.5 3.5a2.5 2.5 0 0 0-3 3L4 10l2 2 3.5-3.5a2.5 2.5 0 0 0 3-3l-1.5 1.5-1.5-1.5z",
  degraded_performance: "M4.5 8h7",
  partial_outage: "M8 4.5v4.5M8 11.5v.01",
  major_outage: "M5.5 5.5l5 5M10.5 5.5l-5 5",
};
const ICONS = html`<svg class="defs" aria-hidden="true" focusable="false"><defs>${Object.entries(
  ICON_PATHS,
).map(
  ([s, d]) =>
    html`<symbol id="i-${s}" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7.25" fill="currentColor"/><path d="${d}" fill="none" stroke="var(--icon-mark,var(--on-status))" stroke-width="1.75" stroke-linecap="round" stroke-linejoin="round"/></symbol>`,
)}</defs></svg>`;

/** The page's overall indicator drawn with the icon of the component status it stands for. */
const INDICATOR_ICON: Record<Indicator, ComponentStatus> = {
  none: "operational",
  maintenance: "under_maintenance",
  minor: "degraded_performance",
  major: "partial_outage",
  critical: "major_outage",
};

const statusLabel = (s: ComponentStatus, v: View) =>
  html`<span class="s s-${s}">${icon(s)}${t(v.locale, `status.${s}`)}</span>`;

/**
 * The last 90 days of a component and everything under it, a bar per day (30 on a phone). Each
 * day opens, without JavaScript, on hover, focus or a tap (a <details>), to its date, status,
 * uptime and incidents; days with something to tell are in the tab order, quiet days are not.
 * Drawn at `v.now`: while an outage lasts its figures fall and at midnight the bars move on a
 * day, so the page changes then, as what it says does.
 */
function uptimeBar(node: ComponentNode, v: View): Html {
  // A component's day is as bad as its own, its subtree's or its ancestors' (as its status is).
  const ids = new Set([...flattenTree([node]).map((n) => n.component.id), ...node.ancestorIds]);
  const now = v.now.getTime();
  const maintenance = v.state.maintenances.flatMap((m) =>
    m.startedAt
      ? m.components.map((componentId) => ({
          componentId,
          status: "under_maintenance" as const,
          start: m.startedAt!.getTime(),
          end: m.completedAt?.getTime() ?? ONGOING,
          title: localized(m.title, m.titleTranslations, v.locale),
        }))
      : [],
  );
  const incidents = v.state.history.map((i) => ({
    spans: statusSpans(i).filter((s) => ids.has(s.componentId)),
    title: localized(i.title, i.titleTranslations, v.locale),
  }));
  // Declared (incidents), scheduled (maintenance) and measured (monitors): the worst counts at each moment.
  const spans = [...incidents.flatMap((i) => i.spans), ...maintenance, ...v.state.measured].filter((s) =>
    ids.has(s.componentId),
  );
  const calendar = new LocalCalendar(v.state.workspace.timeZone);
  const today = calendar.dateOf(now);
  const starts = Array.from({ length: UPTIME_DAYS + 1 }, (_, i) =>
    calendar.startOf(today.subtract({ days: UPTIME_DAYS - 1 - i })),
  );
  const dayStarts = starts.slice(0, UPTIME_DAYS);
  const days = dailyUptime(spans, dayStarts, now);
  const { uptime, slaUptime } = uptimeFigures(days, dayStarts, now);
  const dateLabel = new Intl.DateTimeFormat(v.locale, {
    timeZone: v.state.workspace.timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
  });
  const summary = t(v.locale, "uptimeSummary", {
    days: UPTIME_DAYS,
    uptime: String(uptime),
    sla: String(slaUptime),
  });
  const group = `u-${node.component.id}`;
  const dayItem = (d: (typeof days)[number], i: number) => {
    const start = d.start;
    const end = Math.min(starts[i + 1]!, now);
    const overlaps = (x: { start: number; end: number }) => x.start < end && x.end > start;
    const titles = [
      ...incidents.filter((inc) => inc.spans.some(overlaps)).map((inc) => inc.title),
      ...maintenance.filter((m) => ids.has(m.componentId) && overlaps(m)).map((m) => m.title),
    ];
    const quiet = d.worst === "operational" && titles.length === 0;
    // Today has no figure yet: it would redraw the page every few seconds of an outage.
    const today = i === days.length - 1;
    const share = uptimePercent(end - start - d.downMs - d.maintenanceMs, end - start);
    return html`<li class="u-${d.worst}"><details name="${group}"><summary${quiet ? trusted(' tabindex="-1"') : ""}><span class="pop"><strong>${dateLabel.format(start)}</strong> <span class="s s-${d.worst}">${icon(d.worst)}${t(v.locale, `status.${d.worst}`)}</span>${today ? "" : html` · ${t(v.locale, "dayUptime", { uptime: String(share) })}`}${
      titles.length
        ? html`<span class="pop-list">${[...new Set(titles)].map((title) => html`<span>${title}</span>`)}</span>`
        : html`<span class="pop-list">${t(v.locale, "dayNoIncidents")}</span>`
    }</span></summary></details></li>`;
  };
  return html`<div class="uptime"><ol class="days" aria-label="${node.component.name}: ${summary}">${days.map(dayItem)}</ol><div class="uptime-legend"><span class="wide">${t(v.locale, "daysAgo", { days: UPTIME_DAYS })}</span><span class="narrow">${t(v.locale, "daysAgo", { days: NARROW_DAYS })}</span><span>${summary}</span><span>${t(v.locale, "today")}</span></div></div>`;
}

/** Days of uptime a phone shows: 90 bars would be too thin to tap. */
const NARROW_DAYS = 30;

function componentItem(node: ComponentNode, parentRegion: string | null, v: View, depth = 0): Html {
  // Where a component's city is not already its name ("Tower 72 (Milan)"), it is said by name.
  const city = node.region && node.region !== parentRegion ? v.cityName(node.region) : node.component.name;
  const region = city !== node.component.name ? html` <span class="region">(${city})</span>` : "";
  const row = html`<span class="row"><span>${node.component.name}${region}</span>${statusLabel(node.status, v)}</span>`;
  // Bars for the top two levels: enough to see history without a wall of rectangles.
  const bar = depth <= 1 ? uptimeBar(node, v) : "";
  if (node.children.length === 0) return html`<li>${row}${bar}</li>`;
  const open = node.status !== "operational" || node.component.parentId === null;
  return html`<li><details${open ? trusted(" open") : ""}><summary>${row}</summary>${bar}<ul>${node.children.map(
    (c) => componentItem(c, node.region, v, depth + 1),
  )}</ul></details></li>`;
}

/** "End rental (Milan, Rome)": siblings grouped under their parent, the root left out. */
function describeAffected(ids: readonly string[], tree: readonly ComponentNode[]): string[] {
  const nodes = new Map(flattenTree(tree).map((n) => [n.component.id, n]));
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    // A component this page does not show is not named on it.
    const path = nodes.get(id)?.path;
    if (!path) continue;
    const parent = path.length > 2 ? path.slice(1, -1).join(" › ") : "";
    groups.set(parent, [...(groups.get(parent) ?? []), path.at(-1)!]);
  }
  return [...groups].map(([parent, names]) =>
    parent ? `${parent} (${names.sort().join(", ")})` : names.sort().join(", "),
  );
}

/** An incident and its timeline; its title is an h3 under the page's sections, an h2 on its own page. */
function incidentBlock(incident: Incident, v: View, heading: "h2" | "h3" = "h3"): Html {
  const overdue = incident.nextUpdateBy && incident.nextUpdateBy.getTime() < v.now.getTime();
  const promises = [
    incident.eta ? html`<div>${tx(v, "expectedFix", { time: time(incident.eta, v) })}</div>` : "",
    incident.nextUpdateBy
      ? overdue
        ? html`<div class="overdue">${tx(v, "overdue", { time: time(incident.nextUpdateBy, v) })}</div>`
        : html`<div>${tx(v, "nextUpdateBy", { time: time(incident.nextUpdateBy, v) })}</div>`
      : "",
  ];
  const affected = describeAffected(
    incident.components.map((c) => c.componentId),
    v.state.tree,
  );
  const title = localized(incident.title, incident.titleTranslations, v.locale);
  return html`<article class="incident impact-${incident.impact}" id="incident-${incident.id}">
<${trusted(heading)}><a href="${localePath(v.locale, `/incidents/${encodeURIComponent(incident.id)}`)}">${title}</a></${trusted(heading)}>
<div class="meta">${t(v.locale, `incident.${incident.status}`)} · ${tx(v, "started", { time: time(incident.startedAt, v) })}${
    incident.resolvedAt ? html` · ${tx(v, "resolvedAt", { time: time(incident.resolvedAt, v) })}` : ""
  }${affected.length ? html` · ${t(v.locale, "affects", { list: affected.join(", ") })}` : ""}</div>
${incident.resolvedAt ? "" : html`<div class="promise">${promises}</div>`}${
  v.state.postmortems.has(incident.id)
    ? html`<p><a href="${localePath(v.locale, `/incidents/${encodeURIComponent(incident.id)}/report`)}">${t(v.locale, "pirLink")}</a></p>`
    : ""
}
<ol class="timeline" reversed>${[...incident.updates].reverse().map((u) => {
    const body = localized(u.body, u.bodyTranslations, v.locale);
    return html`<li><span class="update-status">${t(v.locale, `incident.${u.status}`)}</span> — ${time(u.createdAt, v)}
<p class="body">${linkify(body)}</p></li>`;
  })}</ol></article>`;
}

/**
 * A page's address in a language: English at the root, others under their code (`/it/`,
 * `/it/incidents/…`), so a static copy of the page keeps every language as plain files.
 */
export const localePath = (locale: Locale, path: string) => (locale === "en" ? path : `/${locale}${path}`);

/**
 * What a subscriber follows: the component tree and the cities as checkboxes (nothing ticked
 * follows the whole page). Shared by the page's form and the subscriber's management page.
 */
export function scopeChoice(
  tree: readonly ComponentNode[],
  locale: Locale,
  chosen: { components: readonly string[]; regions: readonly string[] } = { components: [], regions: [] },
): Html {
  const item = (n: ComponentNode): Html =>
    html`<li><label><input type="checkbox" name="components" value="${n.component.id}"${chosen.components.includes(n.component.id) ? trusted(" checked") : ""}> ${n.component.name}</label>${
      n.children.length ? html`<ul>${n.children.map(item)}</ul>` : ""
    }</li>`;
  const cities = regionsOf(tree);
  return html`<fieldset><legend>${t(locale, "components")}</legend><ul>${tree.map(item)}</ul></fieldset>${
    cities.length
      ? html`<fieldset><legend>${t(locale, "subscribeCities")}</legend><ul class="cities">${cities.map(
          (c) =>
            html`<li><label><input type="checkbox" name="regions" value="${c.id}"${chosen.regions.includes(c.id) ? trusted(" checked") : ""}> ${c.name}</label></li>`,
        )}</ul></fieldset>`
      : ""
  }`;
}

/**
 * Subscribing works without JavaScript: e-mail, and SMS where the workspace offers it, in a
 * plain form confirmed by a link or a code (double opt-in); the choice of components and cities
 * folds away so the form stays short on a phone. Web push is the optional script's button.
 */
function subscribeForm(v: View): Html {
  const l = v.locale;
  const sms = offersSmsSubscriptions(v.state.workspace.notificationSettings);
  return html`<section aria-labelledby="subscribe"><h2 id="subscribe">${t(l, "subscribeTitle")}</h2>
<form method="post" action="/subscribe" class="subscribe-form" id="subscribe-form"><input type="hidden" name="locale" value="${l}">
<label for="subscribe-email">${t(l, "subscribeEmail")}</label>
<input id="subscribe-email" name="email" type="email" autocomplete="email" maxlength="254"${sms ? "" : trusted(" required")}>
${
  sms
    ? html`<label for="subscribe-phone">${t(l, "subscribePhone")}</label>
<input id="subscribe-phone" name="phone" type="tel" autocomplete="tel" maxlength="40" placeholder="+39 347 123 4567" aria-describedby="subscribe-either">
<p id="subscribe-either" class="meta">${t(l, "subscribeEither")}</p>`
    : ""
}${v.state.tree.length ? html`<details class="choose"><summary>${t(l, "subscribeChoose")}</summary>${scopeChoice(v.state.tree, l)}</details>` : ""}
<button type="submit">${t(l, "subscribeButton")}</button></form>
<div id="push" class="subscribe" hidden data-locale="${l}" data-denied="${t(l, "pushDenied")}" data-failed="${t(l, "pushFailed")}" data-confirm="${t(l, "pushConfirm")}">
<button type="button" id="push-subscribe">${t(l, "pushButton")}</button><p id="push-status" role="status"></p></div>
<script src="/push.js" defer></script></section>`;
}

/** Following one open incident by e-mail (no JavaScript): its updates only, until it is resolved. */
function followForm(incident: Incident, v: View): Html {
  const l = v.locale;
  return html`<section aria-labelledby="follow"><h2 id="follow">${t(l, "followTitle")}</h2><p class="meta">${t(l, "followNote")}</p>
<form method="post" action="/subscribe" class="subscribe-form"><input type="hidden" name="locale" value="${l}"><input type="hidden" name="incident" value="${incident.id}">
<label for="follow-email">${t(l, "subscribeEmail")}</label>
<input id="follow-email" name="email" type="email" autocomplete="email" maxlength="254" required>
<button type="submit">${t(l, "followButton")}</button></form></section>`;
}

/**
 * "I am affected": a plain form (no JavaScript) for when the phone lines jam. The hidden `ft` is
 * the signed render time (a post faster than a person can type is refused); `website` is a
 * honeypot kept off screen and out of the tab order and the accessibility tree.
 */
function reportForm(v: View): Html {
  const nodes = flattenTree(v.state.tree);
  if (nodes.length === 0) return html``;
  const cities = regionsOf(v.state.tree, v.cityName);
  const l = v.locale;
  return html`<section aria-labelledby="report"><h2 id="report">${t(l, "reportTitle")}</h2><p>${t(l, "reportIntro")}</p>
<form method="post" action="/report" class="report"><input type="hidden" name="locale" value="${l}"><input type="hidden" name="ft" value="${signFormTime(v.state.workspace.linkSecret, v.now)}">
<label for="report-component">${t(l, "reportComponent")}</label>
<select id="report-component" name="component" required>${nodes.map(
    (n) =>
      html`<option value="${n.component.id}">${"\u00a0\u00a0".repeat(n.path.length - 1)}${n.component.name}${n.region && n.component.parentId === null && v.cityName(n.region) !== n.component.name ? ` (${v.cityName(n.region)})` : ""}</option>`,
  )}</select>
<label for="report-city">${t(l, "reportCity")}</label>
<select id="report-city" name="city"><option value="">${t(l, "reportAnyCity")}</option>${cities.map(
    (c) => html`<option value="${c.id}"${c.id === v.region ? trusted(" selected") : ""}>${c.name}</option>`,
  )}</select>
<label for="report-contact">${t(l, "reportContact")}</label>
<input id="report-contact" name="contact" maxlength="200" autocomplete="email">
<label for="report-text">${t(l, "reportText")}</label>
<textarea id="report-text" name="text" rows="3" maxlength="2000"></textarea>
<div class="hp" aria-hidden="true"><label for="report-website">${t(l, "reportHoneypot")}</label><input id="report-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">${t(l, "reportButton")}</button></form></section>`;
}

function maintenanceSection(v: View): Html | "" {
  // A recurring series shows its next window only (the feeds and the calendar list them all).
  const seen = new Set<string>();
  const shown = v.state.maintenances.filter((m) => {
    if (m.status !== "scheduled" && m.status !== "in_progress" && m.status !== "overran") return false;
    if (!m.seriesId) return true;
    if (seen.has(m.seriesId)) return false;
    seen.add(m.seriesId);
    return true;
  });
  if (shown.length === 0) return "";
  const names = new Map(flattenTree(v.state.tree).map((n) => [n.component.id, n.component.name]));
  // Only components this page shows are named on it.
  const named = (ids: readonly string[]) => ids.flatMap((id) => (names.has(id) ? [names.get(id)!] : []));
  return html`<section aria-labelledby="maintenance-h"><h2 id="maintenance-h">${t(v.locale, "maintenance")}</h2>${shown.map(
    (m) => html`<article class="incident maintenance" id="maintenance-${m.id}">
<h3>${localized(m.title, m.titleTranslations, v.locale)}</h3>
<div class="meta">${t(v.locale, `maintenance.${m.status}`)}${m.seriesId ? html` · ${t(v.locale, "recurring")}` : ""} · ${tx(v, "maintenanceWindow", { start: time(m.startsAt, v), end: time(m.endsAt, v) })}${
      named(m.components).length
        ? html` · ${t(v.locale, "affects", { list: named(m.components).join(", ") })}`
        : ""
    }</div>
<p class="body">${localized(m.body, m.bodyTranslations, v.locale)}</p></article>`,
  )}<p class="meta"><a href="/maintenance.ics">${t(v.locale, "calendar")}</a></p></section>`;
}

/** What a page of the workspace adds to the frame: its look, a description for search engines, its state. */
interface Frame {
  brand?: PageBrand;
  description?: string;
  indicator?: Indicator;
}

const FAVICON_COLORS: Record<Indicator, string> = {
  none: "#1a7f37",
  maintenance: "#0b5cad",
  minor: "#9a6700",
  major: "#bc4c00",
  critical: "#c0162b",
};

/** Without a favicon of the brand's, a dot in the colour of the page's state (and no request for /favicon.ico). */
const defaultFavicon = (indicator: Indicator = "none") =>
  `data:image/svg+xml,${encodeURIComponent(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${FAVICON_COLORS[indicator]}"/></svg>`)}`;

function layout(title: string, locale: Locale, content: Html, path = "/", frame: Frame = {}): string {
  const { brand, description, indicator } = frame;
  const accent = brand?.accent
    ? `:root{--accent:${brand.accent};--on-accent:${textOnAccent(brand.accent)}}`
    : "";
  return html`<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>${description ? html`\n<meta name="description" content="${description}">` : ""}
<link rel="icon" href="${brand?.favicon?.path ?? defaultFavicon(indicator)}"${brand?.favicon ? html` type="${brand.favicon.contentType}"` : ""}>
<link rel="alternate" type="application/json" href="/api/v2/summary.json">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/history.rss">
<link rel="alternate" type="application/atom+xml" title="Atom" href="/history.atom">
<link rel="alternate" type="text/calendar" title="Maintenance (iCal)" href="/maintenance.ics">
<style>${trusted(STYLE)}</style>${accent ? html`<style>${trusted(accent)}</style>` : ""}</head>
<body>${ICONS}<main>
<header><h1><a href="${localePath(locale, "/")}">${brand?.logo ? html`<img class="logo" src="${brand.logo.path}" alt="" width="${brand.logo.width}" height="${brand.logo.height}">` : ""}${title}</a></h1>
<nav class="lang" aria-label="${t(locale, "language")}">${LOCALES.map(
    (l, i) =>
      html`${i ? " · " : ""}<a href="${localePath(l, path)}" hreflang="${l}" lang="${l}"${l === locale ? trusted(' aria-current="true"') : ""}>${LANGUAGE_NAMES[l]}</a>`,
  )}</nav></header>
${content}
</main></body></html>`.value;
}

/**
 * The page depends on the time it is drawn at only where it says something about that time: the
 * uptime bars and figures, and a promised update going overdue. The rest comes from the state,
 * so its bytes change only with a write or with one of those (and with the report form's token,
 * which its ETag leaves out).
 */
export function renderStatusPage(
  state: PublicState,
  now: Date,
  staleSince: number | null = null,
  locale: Locale = "en",
  region?: string,
): string {
  const v = view(state, now, locale, region);
  const { indicator } = state;
  const minutes = Math.max(1, Math.round((now.getTime() - state.generatedAt.getTime()) / 60_000));
  return layout(
    t(locale, "pageTitle", { name: state.name }),
    locale,
    html`${staleSince !== null ? html`<p class="stale" role="alert">${tx(v, "stale", { time: time(state.generatedAt, v), minutes })}</p>` : ""}
<div class="banner i-${indicator.indicator}" role="status">${icon(INDICATOR_ICON[indicator.indicator])}${t(locale, `indicator.${indicator.indicator}`)}</div>
${
  state.open.length
    ? html`<section aria-labelledby="open-h"><h2 id="open-h">${t(locale, "currentIncidents")}</h2>${state.open.map((i) => incidentBlock(i, v))}</section>`
    : ""
}
${maintenanceSection(v)}
<section aria-labelledby="components-h"><h2 id="components-h">${t(locale, "components")}</h2>
${cityFilter(v)}
${state.tree.length ? html`<ul class="tree">${regionFirst(state.tree, v.region).map((n) => componentItem(n, null, v))}</ul><p class="meta">${t(locale, "uptimeNote")}</p>` : html`<p>${t(locale, "noComponents")}</p>`}
</section>
${reportForm(v)}
${subscribeForm(v)}
<section aria-labelledby="past-h"><h2 id="past-h">${t(locale, "pastIncidents", { days: HISTORY_DAYS })}</h2>
${state.recent.length ? state.recent.map((i) => incidentBlock(i, v)) : html`<p>${t(locale, "noPastIncidents", { days: HISTORY_DAYS })}</p>`}
</section>
<footer>${tx(v, "updated", { time: time(state.updatedAt, v) })} · <a href="/api/v2/summary.json">JSON API</a> · <a href="/history.rss">RSS</a> · <a href="/history.atom">Atom</a> · Powered by Amends</footer>`,
    "/",
    {
      brand: state.brand,
      description: t(locale, "pageDescription", { name: state.name }),
      indicator: indicator.indicator,
    },
  );
}

/** An incident's latest word, cut to what a search result shows. */
function incidentSummary(incident: Incident, locale: Locale): string {
  const latest = incident.updates.at(-1);
  const text = latest ? localized(latest.body, latest.bodyTranslations, locale) : "";
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 160 ? `${flat.slice(0, 157).trimEnd()}…` : flat;
}

/** One incident on a page of its own: the target of Statuspage's `shortlink`. */
export function renderIncidentPage(
  incident: Incident,
  state: PublicState,
  now: Date,
  locale: Locale = "en",
): string {
  const v = view(state, now, locale);
  return layout(
    `${localized(incident.title, incident.titleTranslations, locale)} · ${t(locale, "pageTitle", { name: state.name })}`,
    locale,
    html`<section>${incidentBlock(incident, v, "h2")}</section>${incident.resolvedAt ? "" : followForm(incident, v)}<footer><a href="${localePath(locale, "/")}">← ${t(locale, "backToStatus")}</a></footer>`,
    `/incidents/${encodeURIComponent(incident.id)}`,
    {
      brand: state.brand,
      description: incidentSummary(incident, locale),
      indicator: state.indicator.indicator,
    },
  );
}

/** The letter after an incident, on a page of its own, in the reader's language when written. */
export function renderPostmortemPage(
  incident: Incident,
  report: PostIncidentReport,
  state: PublicState,
  locale: Locale = "en",
): string {
  const own = report.translations[locale] ?? {};
  const text = (key: string) => own[key] || report.sections[key] || "";
  const title = localized(incident.title, incident.titleTranslations, locale);
  const heads = {
    what_happened: "pirHappened",
    what_we_did: "pirDid",
    what_now: "pirNow",
    what_we_change: "pirChange",
  } as const;
  const paragraphs = (body: string) => {
    const lines = body.split("\n").filter((l) => l.trim());
    const items = lines.filter((l) => l.startsWith("- "));
    const prose = lines.filter((l) => !l.startsWith("- "));
    return html`${prose.map((p) => html`<p>${p}</p>`)}${
      items.length ? html`<ul>${items.map((i) => html`<li>${i.slice(2)}</li>`)}</ul>` : ""
    }`;
  };
  return layout(
    `${t(locale, "pirLink")}: ${title} · ${state.name}`,
    locale,
    html`<article><section><h2>${title}</h2>${Object.entries(heads).map(
      ([key, head]) => html`<h3>${t(locale, head)}</h3>${paragraphs(text(key))}`,
    )}</section></article><footer><a href="${localePath(locale, `/incidents/${encodeURIComponent(incident.id)}`)}">← ${title}</a> · <a href="${localePath(locale, "/")}">${t(locale, "backToStatus")}</a></footer>`,
    `/incidents/${encodeURIComponent(incident.id)}/report`,
    { brand: state.brand, indicator: state.indicator.indicator },
  );
}

export function renderErrorPage(status: number, message: string, locale: Locale = "en"): string {
  return layout(
    `${status}`,
    locale,
    html`<section><h2>${status}</h2><p>${message}</p><p><a href="/">${t(locale, "backToStatus")}</a></p></section>`,
  );
}

/** A small page in the status page's frame: confirmations, unsubscribing. */
export function renderSimplePage(title: string, content: Html, locale: Locale = "en"): string {
  return layout(
    title,
    locale,
    html`<section><h2>${title}</h2>${content}<p><a href="/">${t(locale, "backToStatus")}</a></p></section>`,
  );
}
