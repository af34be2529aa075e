/**
 * Scheduled maintenance as a clock-driven state machine.
 *
 *   scheduled ──(starts_at, auto_start)──▶ in_progress ──(ends_at, auto_end, or done by hand)──▶ completed
 *                                               │
 *                                               └─(still open at ends_at + overrun_after)──▶ overran
 *
 * A window that overruns becomes an incident (the caller opens it): maintenance that runs long
 * is an outage, and customers must hear about it as one. Cancelled windows never start.
 */
export const MAINTENANCE_STATUSES = [
  "scheduled",
  "in_progress",
  "completed",
  "overran",
  "cancelled",
] as const;
export type MaintenanceStatus = (typeof MAINTENANCE_STATUSES)[number];

export interface Maintenance {
  id: string;
  title: string;
  titleTranslations: Record<string, string>;
  body: string;
  bodyTranslations: Record<string, string>;
  components: string[];
  startsAt: Date;
  endsAt: Date;
  autoStart: boolean;
  autoEnd: boolean;
  /** how long past its end an open window may run before it counts as an outage */
  overrunAfterMs: number;
  status: MaintenanceStatus;
  startedAt: Date | null;
  completedAt: Date | null;
  remindedAt: Date | null;
  overrunIncidentId: string | null;
  /** the recurring series this window is an occurrence of */
  seriesId?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type MaintenanceEvent = "reminder" | "started" | "completed" | "overran";

export const REMINDER_BEFORE_MS = 60 * 60_000;

/** Where the clock takes a window, and what happened on the way (at most one step per call). */
export function advance(
  m: Maintenance,
  now: Date,
): { next: Maintenance; event: MaintenanceEvent } | undefined {
  const t = now.getTime();
  const at = (d: Date) => d.getTime();
  if (m.status === "scheduled" && m.autoStart && t >= at(m.startsAt)) {
    return { next: { ...m, status: "in_progress", startedAt: m.startsAt, updatedAt: now }, event: "started" };
  }
  if (
    m.status === "scheduled" &&
    !m.remindedAt &&
    t >= at(m.startsAt) - REMINDER_BEFORE_MS &&
    t < at(m.startsAt)
  ) {
    return { next: { ...m, remindedAt: now, updatedAt: now }, event: "reminder" };
  }
  if (m.status === "in_progress" && m.autoEnd && t >= at(m.endsAt)) {
    return { next: { ...m, status: "completed", completedAt: m.endsAt, updatedAt: now }, event: "completed" };
  }
  if (m.status === "in_progress" && !m.autoEnd && t >= at(m.endsAt) + m.overrunAfterMs) {
    return { next: { ...m, status: "overran", updatedAt: now }, event: "overran" };
  }
  return undefined;
}

/** Components are under maintenance while a window is in progress. */
export const isActive = (m: Pick<Maintenance, "status">) => m.status === "in_progress";

/** Statuspage's maintenance statuses. */
export function statuspageStatus(
  m: Pick<Maintenance, "status">,
): "scheduled" | "in_progress" | "verifying" | "completed" {
  if (m.status === "scheduled") return "scheduled";
  if (m.status === "in_progress") return "in_progress";
  if (m.status === "overran") return "verifying";
  return "completed";
}
