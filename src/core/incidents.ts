/**
 * Incidents and their update timeline, as pure state transitions.
 *
 * Invariants: an incident's status follows investigating → identified → monitoring → resolved
 * (an operator may skip ahead or step back while it is open, as real fixes do not always hold);
 * a resolved incident takes no further updates; every update is appended, never edited, and
 * records the old and new status of each component it touches; resolving returns every
 * affected component to operational within this incident.
 */
import { type ComponentStatus, worstStatus } from "./components.ts";
import { conflict, invalidField } from "./errors.ts";

export const IMPACTS = ["none", "minor", "major", "critical"] as const;
export type Impact = (typeof IMPACTS)[number];

export const INCIDENT_STATUSES = ["investigating", "identified", "monitoring", "resolved"] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export interface AffectedComponent {
  componentId: string;
  status: ComponentStatus;
}

export interface ComponentChange {
  componentId: string;
  oldStatus: ComponentStatus;
  newStatus: ComponentStatus;
}

export interface IncidentUpdate {
  id: string;
  incidentId: string;
  status: IncidentStatus;
  body: string;
  /** The body in other languages, by locale, as the operator wrote it. */
  bodyTranslations: Record<string, string>;
  components: ComponentChange[];
  /** When the team expects the service back. */
  eta: Date | null;
  /** When the team promises to post the next update. */
  nextUpdateBy: Date | null;
  createdAt: Date;
  createdBy: string | null;
  /** For the team only (console, admin API), never shown to the public: e.g. which monitor saw what. */
  teamNote?: string | null;
}

export interface Incident {
  id: string;
  title: string;
  /** The title in other languages, by locale. */
  titleTranslations: Record<string, string>;
  impact: Impact;
  status: IncidentStatus;
  /** When the failure began; may be earlier than when it was reported. */
  startedAt: Date;
  createdAt: Date;
  updatedAt: Date;
  identifiedAt: Date | null;
  monitoringAt: Date | null;
  resolvedAt: Date | null;
  /** Standing ETA: carried from update to update until changed or cleared. */
  eta: Date | null;
  /** Standing promise of the next update: each update fulfils the last one and may make a new one. */
  nextUpdateBy: Date | null;
  /** Components this incident touches and their status within it. */
  components: AffectedComponent[];
  updates: IncidentUpdate[];
}

export interface UpdateInput {
  status?: IncidentStatus;
  body: string;
  bodyTranslations?: Record<string, string>;
  components?: AffectedComponent[];
  eta?: Date | null;
  nextUpdateBy?: Date | null;
  createdBy?: string | null;
  /** technical detail for the team's timeline only */
  teamNote?: string | null;
  /** When service was actually restored, if earlier than this update (resolving late). */
  resolvedAt?: Date;
}

const IMPACT_OF_STATUS: Record<ComponentStatus, Impact> = {
  operational: "none",
  under_maintenance: "none",
  degraded_performance: "minor",
  partial_outage: "major",
  major_outage: "critical",
};

/** The impact an incident has when the operator does not say. */
export function impactOf(components: readonly AffectedComponent[]): Impact {
  return IMPACT_OF_STATUS[worstStatus(components.map((c) => c.status))];
}

export function isOpen(incident: Pick<Incident, "status">): boolean {
  return incident.status !== "resolved";
}

function checkTimes(input: UpdateInput, now: Date): void {
  if (input.nextUpdateBy && input.nextUpdateBy.getTime() <= now.getTime()) {
    throw invalidField("next_update_by", "must be in the future");
  }
}

function checkUniqueComponents(components: readonly AffectedComponent[], field: string): void {
  const seen = new Set<string>();
  components.forEach((c, i) => {
    if (seen.has(c.componentId)) throw invalidField(`${field}.${i}.id`, `"${c.componentId}" is listed twice`);
    seen.add(c.componentId);
  });
}

export interface OpenInput {
  id: string;
  updateId: string;
  title: string;
  titleTranslations?: Record<string, string>;
  impact?: Impact;
  startedAt?: Date;
  update: UpdateInput;
}

export function openIncident(input: OpenInput, now: Date): Incident {
  const components = input.update.components ?? [];
  checkUniqueComponents(components, "components");
  checkTimes(input.update, now);
  if (input.startedAt && input.startedAt.getTime() > now.getTime()) {
    throw invalidField("started_at", "cannot be in the future");
  }
  const status = input.update.status ?? "investigating";
  if (status === "resolved") throw invalidField("status", "a new incident cannot start resolved");
  const draft: Incident = {
    id: input.id,
    title: input.title,
    titleTranslations: input.titleTranslations ?? {},
    impact: input.impact ?? impactOf(components),
    status,
    startedAt: input.startedAt ?? now,
    createdAt: now,
    updatedAt: now,
    identifiedAt: null,
    monitoringAt: null,
    resolvedAt: null,
    eta: null,
    nextUpdateBy: null,
    components: [],
    updates: [],
  };
  return postUpdate(draft, input.updateId, { ...input.update, status }, now, "components");
}

/** Appends an update; components not named keep their status in this incident. */
export function postUpdate(
  incident: Incident,
  updateId: string,
  input: UpdateInput,
  now: Date,
  componentsField = "components",
): Incident {
  if (!isOpen(incident)) throw conflict(`incident "${incident.id}" is resolved and takes no more updates`);
  checkTimes(input, now);
  const named = input.components ?? [];
  checkUniqueComponents(named, componentsField);
  const status = input.status ?? incident.status;
  const current = new Map(incident.components.map((c) => [c.componentId, c.status]));
  const changes: ComponentChange[] = [];
  for (const c of named) {
    changes.push({
      componentId: c.componentId,
      oldStatus: current.get(c.componentId) ?? "operational",
      newStatus: c.status,
    });
    current.set(c.componentId, c.status);
  }
  if (status === "resolved") {
    for (const [componentId, old] of current) {
      if (old !== "operational" && !named.some((c) => c.componentId === componentId)) {
        changes.push({ componentId, oldStatus: old, newStatus: "operational" });
      }
      current.set(componentId, "operational");
    }
  }
  const resolved = status === "resolved";
  if (input.resolvedAt) {
    if (!resolved)
      throw invalidField("resolved_at", "only a resolving update can say when service was restored");
    if (input.resolvedAt.getTime() > now.getTime())
      throw invalidField("resolved_at", "cannot be in the future");
    if (input.resolvedAt.getTime() <= incident.startedAt.getTime()) {
      throw invalidField("resolved_at", "must be after the incident started");
    }
  }
  const eta = resolved ? null : input.eta === undefined ? incident.eta : input.eta;
  const nextUpdateBy = resolved ? null : (input.nextUpdateBy ?? null);
  const update: IncidentUpdate = {
    id: updateId,
    incidentId: incident.id,
    status,
    body: input.body,
    bodyTranslations: input.bodyTranslations ?? {},
    components: changes,
    eta,
    nextUpdateBy,
    createdAt: now,
    createdBy: input.createdBy ?? null,
    teamNote: input.teamNote ?? null,
  };
  return {
    ...incident,
    status,
    updatedAt: now,
    identifiedAt: incident.identifiedAt ?? (status === "identified" ? now : null),
    monitoringAt: incident.monitoringAt ?? (status === "monitoring" ? now : null),
    resolvedAt: resolved ? (input.resolvedAt ?? now) : null,
    eta,
    nextUpdateBy,
    components: [...current].map(([componentId, s]) => ({ componentId, status: s })),
    updates: [...incident.updates, update],
  };
}

export interface IncidentEdit {
  title?: string;
  titleTranslations?: Record<string, string>;
  impact?: Impact;
  startedAt?: Date;
}

/** Corrects an incident's title, impact or start; the timeline itself is never rewritten. */
export function editIncident(incident: Incident, patch: IncidentEdit, now: Date): Incident {
  if (patch.startedAt) {
    if (patch.startedAt.getTime() > now.getTime())
      throw invalidField("started_at", "cannot be in the future");
    if (incident.resolvedAt && patch.startedAt.getTime() >= incident.resolvedAt.getTime()) {
      throw invalidField("started_at", "must be before the incident was resolved");
    }
  }
  // Absent fields keep their value: a patch may carry them as undefined.
  const changes = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  return { ...incident, ...changes, updatedAt: now };
}
