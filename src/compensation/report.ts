/**
 * A run's report for finance and support: totals, a chart of amounts by city and by rule (one
 * chart per currency or unit), and what was excluded or needs review. Aggregated in SQL so a
 * run of a million lines never comes into memory; rendered as one self-contained HTML page.
 */
import { listComponents } from "../components/store.ts";
import { formatMoney } from "../core/money.ts";
import { regionNames } from "../core/wording.ts";
import { html, trusted } from "../lib/html.ts";
import type { Database } from "../storage/database.ts";
import type { runJson } from "./run-json.ts";

export interface Bar {
  label: string;
  amount: number;
  customers: number;
}
/** One chart: the bars of one currency (money) or one unit (credits). */
export interface Chart {
  measure: { currency: string } | { unit: string };
  bars: Bar[];
}
export interface RunReport {
  run: RunJson;
  byCity: Chart[];
  byRule: Chart[];
  excluded: { reason: string; count: number }[];
  review: { reason: string; count: number }[];
}

const NO_CITY = "(no city)";

type RunJson = ReturnType<typeof runJson>;

export async function loadRunReport(db: Database, workspaceId: string, run: RunJson): Promise<RunReport> {
  const [groups, items, components] = await Promise.all([
    // A line's city is its session's region; charge-only lines fall back to the customer's home.
    db.query<{
      city: string | null;
      rule: string;
      currency: string | null;
      unit: string | null;
      amount: string;
      customers: string;
    }>(
      `select coalesce(s.region, c.home_region) as city, l.rule, l.currency, l.unit,
              sum(l.amount)::text as amount, count(distinct l.customer_id)::text as customers
         from comp_run_lines l
         left join usage_sessions s on s.workspace_id = l.workspace_id and s.id = l.session
         left join customers c on c.workspace_id = l.workspace_id and c.id = l.customer_id
        where l.workspace_id = $1 and l.run_id = $2
        group by 1, 2, 3, 4`,
      [workspaceId, run.id],
    ),
    db.query<{ type: string; reason: string; count: string }>(
      `select type, reason, count(*)::text as count from comp_run_items
        where workspace_id = $1 and run_id = $2 group by 1, 2 order by 1, 3 desc, 2`,
      [workspaceId, run.id],
    ),
    listComponents(db.db, workspaceId),
  ]);
  // Cities by the names people read, as the page says them.
  const cityName = regionNames(components);
  const rows = groups.map((g) => ({
    city: g.city === null ? NO_CITY : cityName(g.city),
    rule: g.rule,
    measure: g.unit && !g.currency ? { unit: g.unit } : { currency: g.currency ?? "?" },
    amount: Number(g.amount),
    customers: Number(g.customers),
  }));
  const counts = (type: string) =>
    items.filter((i) => i.type === type).map((i) => ({ reason: i.reason, count: Number(i.count) }));
  // The run stores a sample of each exclusion reason; its summary counts them all.
  const excludedReasons = (run.summary as { excluded_reasons?: Record<string, number> }).excluded_reasons;
  const excluded = excludedReasons
    ? Object.entries(excludedReasons)
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1))
    : counts("excluded");
  return {
    run,
    byCity: chartsBy(rows, (r) => r.city),
    byRule: chartsBy(rows, (r) => r.rule),
    excluded,
    review: counts("review"),
  };
}

/**
 * Folds (city, rule, measure) groups into one chart per measure, bars largest first. A customer
 * paid under two rules in one city is counted once per bar, so bar customer counts may not add up.
 */
export function chartsBy(
  rows: { measure: Chart["measure"]; amount: number; customers: number; city: string; rule: string }[],
  labelOf: (r: { city: string; rule: string }) => string,
): Chart[] {
  const charts = new Map<string, Chart>();
  for (const r of rows) {
    const id = "currency" in r.measure ? `money:${r.measure.currency}` : `unit:${r.measure.unit}`;
    const chart = charts.get(id) ?? { measure: r.measure, bars: [] };
    charts.set(id, chart);
    const label = labelOf(r);
    const bar = chart.bars.find((b) => b.label === label);
    if (bar) {
      bar.amount += r.amount;
      bar.customers += r.customers;
    } else chart.bars.push({ label, amount: r.amount, customers: r.customers });
  }
  const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...charts.entries()]
    .sort(([a], [b]) => byKey(a, b))
    .map(([, c]) => ({ ...c, bars: c.bars.sort((a, b) => b.amount - a.amount || byKey(a.label, b.label)) }));
}

const measureText = (m: Chart["measure"], amount: number) =>
  "currency" in m ? formatMoney({ amount, currency: m.currency }) : `${amount} ${m.unit}`;

/** A horizontal bar chart as inline SVG, with a table-like text label on every bar for screen readers. */
function barChart(title: string, chart: Chart) {
  const ROW = 26;
  const LABEL = 180;
  const BAR = 360;
  const max = Math.max(1, ...chart.bars.map((b) => b.amount));
  const height = chart.bars.length * ROW + 8;
  const caption = `${title} (${"currency" in chart.measure ? chart.measure.currency : chart.measure.unit})`;
  return html`<figure>
<figcaption>${caption}</figcaption>
<svg role="img" aria-label="${caption}" width="${LABEL + BAR + 200}" height="${height}" viewBox="0 0 ${LABEL + BAR + 200} ${height}">
${chart.bars.map((b, i) => {
  const y = i * ROW + 4;
  const w = Math.max(1, Math.round((b.amount / max) * BAR));
  const text = `${measureText(chart.measure, b.amount)} · ${b.customers} customer${b.customers === 1 ? "" : "s"}`;
  return html`<g><title>${b.label}: ${text}</title><text x="${LABEL - 8}" y="${y + 15}" text-anchor="end">${b.label}</text><rect x="${LABEL}" y="${y}" width="${w}" height="${ROW - 8}" fill="#0b5cad"></rect><text x="${LABEL + w + 6}" y="${y + 15}">${text}</text></g>`;
})}
</svg>
</figure>`;
}

const STYLE =
  trusted(`body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:62rem;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #d0d7de;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1rem 0}svg{max-width:100%;height:auto}figcaption{font-weight:600;margin-bottom:.25rem}svg text{font:13px system-ui,sans-serif;fill:#1f2328}
.status{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#eaeef2}`);

export function renderRunReport(r: RunReport): string {
  const s = r.run.summary as {
    money?: Record<string, number>;
    units?: Record<string, number>;
    lines?: number;
    affected?: number;
  };
  const totals = [
    ...Object.entries(s.money ?? {}).map(([currency, amount]) => formatMoney({ amount, currency })),
    ...Object.entries(s.units ?? {}).map(([unit, amount]) => `${amount} ${unit}`),
  ];
  const counts = (title: string, rows: { reason: string; count: number }[]) =>
    rows.length
      ? html`<h2>${title}</h2><table><thead><tr><th scope="col">Reason</th><th scope="col">Items</th></tr></thead><tbody>${rows.map(
          (x) => html`<tr><td>${x.reason}</td><td class="n">${x.count}</td></tr>`,
        )}</tbody></table>`
      : "";
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Compensation run ${r.run.id}</title><style>${STYLE}</style></head>
<body><main>
<h1>Compensation run ${r.run.id} <span class="status">${r.run.status}</span></h1>
<table><tbody>
<tr><th scope="row">Incident</th><td>${r.run.incident_id}</td></tr>
<tr><th scope="row">Policy</th><td>${r.run.policy.id} v${r.run.policy.version}</td></tr>
<tr><th scope="row">Window</th><td>[${r.run.window.start}, ${r.run.window.end})</td></tr>
<tr><th scope="row">Total</th><td>${totals.join(", ") || "nothing due"}</td></tr>
<tr><th scope="row">Actions</th><td>${s.lines ?? 0} for ${s.affected ?? 0} customers</td></tr>
<tr><th scope="row">Preview hash</th><td><code>${r.run.preview_hash}</code></td></tr>
</tbody></table>
<h2>By city</h2>${r.byCity.map((c) => barChart("Amount by city", c))}
<h2>By rule</h2>${r.byRule.map((c) => barChart("Amount by rule", c))}
${counts("Excluded", r.excluded)}${counts("To review", r.review)}
</main></body></html>
`.value;
}
