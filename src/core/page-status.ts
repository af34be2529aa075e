/** The one-line verdict at the top of a status page, in Statuspage's indicator vocabulary. */
import type { ComponentStatus } from "./components.ts";
import type { Impact } from "./incidents.ts";

export const INDICATORS = ["none", "maintenance", "minor", "major", "critical"] as const;
export type Indicator = (typeof INDICATORS)[number];

const FROM_COMPONENT: Record<ComponentStatus, Indicator> = {
  operational: "none",
  under_maintenance: "maintenance",
  degraded_performance: "minor",
  partial_outage: "major",
  major_outage: "critical",
};

const FROM_IMPACT: Record<Impact, Indicator> = {
  none: "none",
  minor: "minor",
  major: "major",
  critical: "critical",
};

export const INDICATOR_DESCRIPTIONS: Record<Indicator, string> = {
  none: "All Systems Operational",
  maintenance: "Service Under Maintenance",
  minor: "Minor Service Outage",
  major: "Partial System Outage",
  critical: "Major Service Outage",
};

export function pageIndicator(
  componentStatuses: Iterable<ComponentStatus>,
  openIncidentImpacts: Iterable<Impact>,
): { indicator: Indicator; description: string } {
  let worst = 0;
  for (const s of componentStatuses) worst = Math.max(worst, INDICATORS.indexOf(FROM_COMPONENT[s]));
  for (const i of openIncidentImpacts) worst = Math.max(worst, INDICATORS.indexOf(FROM_IMPACT[i]));
  const indicator = INDICATORS[worst]!;
  return { indicator, description: INDICATOR_DESCRIPTIONS[indicator] };
}
