/**
 * "I am affected": which open incident a customer's report belongs to, whether a compensation
 * policy covers that incident (so the acknowledgement can promise that no claim is needed),
 * and when reports on a component with no incident should alert the team.
 */
import type { Match } from "./compensation/policy.ts";
import { type Component, subtreeIds } from "./components.ts";

/** A component, its ancestors and its descendants: an incident on any of them concerns a report on it. */
export function relatedComponents(components: readonly Component[], id: string): Set<string> {
  const related = subtreeIds(components, id);
  const parents = new Map(components.map((c) => [c.id, c.parentId]));
  for (let p = parents.get(id) ?? null; p !== null && !related.has(p); p = parents.get(p) ?? null)
    related.add(p);
  return related;
}

export interface OpenIncidentRef {
  id: string;
  startedAt: Date;
  componentIds: readonly string[];
}

/** The open incident on the reported component (or above or below it), the most recent first. */
export function incidentForReport(
  open: readonly OpenIncidentRef[],
  related: ReadonlySet<string>,
): OpenIncidentRef | undefined {
  return [...open]
    .filter((i) => i.componentIds.some((c) => related.has(c)))
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())[0];
}

/**
 * Does a policy pay out for this incident? One written for it does; a general one does when
 * its components (with their subtrees) touch the incident's, or when it names none (it then
 * follows the incident's own). Billing-fault policies are about charges, not outages.
 */
export function policyCovers(
  match: Match,
  incident: { id: string; componentIds: readonly string[] },
  components: readonly Component[],
): boolean {
  if (match.billing_fault) return false;
  if (match.incident) return match.incident === incident.id;
  if (!match.components) return true;
  const covered = new Set(match.components.flatMap((id) => [...subtreeIds(components, id)]));
  // A policy on Milan's end-rental covers an incident on end-rental everywhere, and vice versa.
  return incident.componentIds.some((id) =>
    [...relatedComponents(components, id)].some((c) => covered.has(c)),
  );
}

export interface ReportThreshold {
  /** reports within the window that make a burst */
  threshold: number;
  windowMs: number;
}

/**
 * Customers as a monitor: alert when the reports on a component in the last window reach the
 * threshold, once per burst. A burst lasts while reports keep coming; a new alert needs the
 * last one to be older than the window.
 */
export function burstAlertDue(
  reportsInWindow: number,
  lastAlertAt: Date | null,
  now: Date,
  { threshold, windowMs }: ReportThreshold,
): boolean {
  if (reportsInWindow < threshold) return false;
  return !lastAlertAt || now.getTime() - lastAlertAt.getTime() >= windowMs;
}

/** Spam signals on a form post, checked before anything is written. */
export function formSuspicion(
  form: { honeypot?: string; renderedAt?: number },
  now: number,
  minFillMs: number,
  maxAgeMs: number,
): string | undefined {
  if (form.honeypot) return "honeypot";
  if (form.renderedAt === undefined) return "no_form_token";
  if (now - form.renderedAt < minFillMs) return "too_fast";
  if (now - form.renderedAt > maxAgeMs) return "form_expired";
  return undefined;
}
