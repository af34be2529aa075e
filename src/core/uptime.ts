/**
 * Uptime from the incident history: each component's status over time, per day, for the
 * 90-day bars and the uptime figures on the page.
 *
 * A major outage counts fully as downtime and a partial outage as 30% of it (as Statuspage
 * weights it); degraded performance is shown but not counted. Maintenance is counted apart:
 * `uptime` treats it as downtime, `slaUptime` leaves it out of the time measured.
 */
import { type ComponentStatus, worstStatus } from "./components.ts";
import type { Incident } from "./incidents.ts";

/** Per mille of the time a status counts as down. */
const DOWN_WEIGHT: Record<ComponentStatus, number> = {
  operational: 0,
  under_maintenance: 0,
  degraded_performance: 0,
  partial_outage: 300,
  major_outage: 1000,
};

export interface StatusSpan {
  componentId: string;
  status: ComponentStatus;
  start: number;
  /** `ONGOING` while the status still holds */
  end: number;
}

/**
 * The end of a status that still holds. Spans say "until further notice" rather than "until
 * the clock read when they were loaded", so what a page shows depends on the time it is drawn
 * at alone, not on when its snapshot happened to be read.
 */
export const ONGOING = Number.POSITIVE_INFINITY;

/** Each component's status within an incident, from its start (or its first update) to its end. */
export function statusSpans(incident: Incident): StatusSpan[] {
  const spans: StatusSpan[] = [];
  const open = new Map<string, { status: ComponentStatus; since: number }>();
  const end = incident.resolvedAt?.getTime() ?? ONGOING;
  incident.updates.forEach((u, i) => {
    const at = Math.min(i === 0 ? incident.startedAt.getTime() : u.createdAt.getTime(), end);
    for (const c of u.components) {
      const prev = open.get(c.componentId);
      if (prev && at > prev.since)
        spans.push({ componentId: c.componentId, status: prev.status, start: prev.since, end: at });
      open.set(c.componentId, { status: c.newStatus, since: at });
    }
  });
  for (const [componentId, { status, since }] of open) {
    if (end > since && status !== "operational") spans.push({ componentId, status, start: since, end });
  }
  return spans.filter((s) => s.status !== "operational");
}

export interface DayUptime {
  /** start of the day (epoch ms) */
  start: number;
  /** worst status seen that day */
  worst: ComponentStatus;
  /** weighted downtime, ms */
  downMs: number;
  maintenanceMs: number;
}

/**
 * Weighted downtime and maintenance within [start, end) from overlapping spans: the worst wins at
 * each moment. When `end` is now, a status that began this very instant counts too (as the
 * worst of the day, for no time yet): an outage is on today's bar from the moment it opens.
 */
function measure(spans: readonly StatusSpan[], start: number, end: number, now: number): DayUptime {
  const inside = spans.filter(
    (s) => s.end > start && (s.start < end || (end === now && s.start === now && s.end > now)),
  );
  const cuts = [
    ...new Set([start, end, ...inside.flatMap((s) => [Math.max(s.start, start), Math.min(s.end, end)])]),
  ].sort((a, b) => a - b);
  let down = 0;
  let maintenance = 0;
  for (let i = 0; i < cuts.length - 1; i++) {
    const [a, b] = [cuts[i]!, cuts[i + 1]!];
    const here = inside.filter((s) => s.start <= a && s.end >= b).map((s) => s.status);
    if (here.length === 0) continue;
    const worst = worstStatus(here);
    down += ((b - a) * DOWN_WEIGHT[worst]) / 1000;
    if (worst === "under_maintenance") maintenance += b - a;
  }
  return { start, worst: worstStatus(inside.map((s) => s.status)), downMs: down, maintenanceMs: maintenance };
}

export function dailyUptime(
  spans: readonly StatusSpan[],
  dayStarts: readonly number[],
  now: number,
): DayUptime[] {
  return dayStarts.map((start, i) =>
    measure(spans, start, Math.min(dayStarts[i + 1] ?? start + 86_400_000, now), now),
  );
}

/** Percentages over the days, to two decimals (floored, so 99.999% never shows as 100%). */
export function uptimeFigures(days: readonly DayUptime[], dayStarts: readonly number[], now: number) {
  const total = dayStarts.reduce(
    (s, start, i) => s + Math.max(0, Math.min(dayStarts[i + 1] ?? start + 86_400_000, now) - start),
    0,
  );
  const down = days.reduce((s, d) => s + d.downMs, 0);
  const maintenance = days.reduce((s, d) => s + d.maintenanceMs, 0);
  return {
    uptime: uptimePercent(total - down - maintenance, total),
    slaUptime: uptimePercent(total - maintenance - down, total - maintenance),
  };
}

/** A share as a percentage to two decimals, floored (99.999% never shows as 100%). */
export const uptimePercent = (num: number, den: number) =>
  den <= 0 ? 100 : Math.floor((num / den) * 10_000) / 100;
