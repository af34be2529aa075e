/**
 * An embeddable badge (SVG, shields.io layout) of the page's indicator, and a small widget
 * script that shows the current status on another site by reading /api/v2/status.json.
 */
import type { Indicator } from "../core/page-status.ts";
import { escapeHtml } from "../lib/html.ts";

const COLORS: Record<Indicator, string> = {
  none: "#1a7f37",
  maintenance: "#0b5cad",
  minor: "#9a6700",
  major: "#bc4c00",
  critical: "#c0162b",
};

/** Rough text width for Verdana 11px, the badge font; good enough to size the boxes. */
const width = (text: string) => Math.round(text.length * 6.5 + 10);

export function renderBadge(label: string, message: string, indicator: Indicator): string {
  const [l, m] = [escapeHtml(label), escapeHtml(message)];
  const lw = width(label);
  const mw = width(message);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + mw}" height="20" role="img" aria-label="${l}: ${m}"><title>${l}: ${m}</title><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${COLORS[indicator]}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="${lw / 2}" y="14">${l}</text><text x="${lw + mw / 2}" y="14">${m}</text></g></svg>`;
}

/**
 * `<script src="https://status.example.com/widget.js" data-target="#status"></script>` puts a
 * link with the current status into the element (or after the script when there is none).
 */
export function renderWidgetScript(origin: string): string {
  return `(function () {
  var me = document.currentScript;
  var origin = ${JSON.stringify(origin)};
  var colors = ${JSON.stringify(COLORS)};
  fetch(origin + "/api/v2/status.json").then(function (r) { return r.json(); }).then(function (d) {
    var a = document.createElement("a");
    a.href = origin + "/";
    a.textContent = d.status.description;
    a.setAttribute("style", "display:inline-block;padding:.25em .6em;border-radius:.3em;color:#fff;text-decoration:none;font:600 14px system-ui,sans-serif;background:" + (colors[d.status.indicator] || "#555"));
    var target = me && me.dataset.target ? document.querySelector(me.dataset.target) : null;
    if (target) target.appendChild(a); else if (me) me.parentNode.insertBefore(a, me.nextSibling);
  }).catch(function () {});
})();
`;
}
