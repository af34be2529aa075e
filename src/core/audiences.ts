/**
 * Who may hear about each kind of event: the one table every part of the delivery path asks
 * (the audience query, the fan-out, the estimate, and the sender before each call). An event
 * kind missing from the table reaches nobody, so a new kind is silent until someone decides.
 * Pure: no I/O.
 */

/**
 * - team: the workspace's own people (settings.team)
 * - subscribers: people who subscribed to the page (e-mail, SMS, push, chat), not webhooks
 * - webhooks: subscribers whose channel is a webhook (machines at customers' and partners')
 * - customers: customers the failure touches, or the one customer a direct message names
 * - social: the company's public social accounts (Mastodon, Bluesky)
 */
export const AUDIENCES = ["team", "subscribers", "webhooks", "customers", "social"] as const;
export type Audience = (typeof AUDIENCES)[number];

const PUBLIC_NEWS: readonly Audience[] = ["team", "subscribers", "webhooks", "customers", "social"];
const PLANNED_WORK: readonly Audience[] = ["team", "subscribers", "webhooks", "customers"];
const TEAM_ONLY: readonly Audience[] = ["team"];
const ONE_CUSTOMER: readonly Audience[] = ["customers"];

/** Every event kind the outbox carries, with the audiences it may reach. */
export const EVENT_AUDIENCES: Readonly<Record<string, readonly Audience[]>> = {
  "incident.opened": PUBLIC_NEWS,
  "incident.updated": PUBLIC_NEWS,
  "incident.resolved": PUBLIC_NEWS,
  /** a missed promise of an update: the team must post one; nobody else is told */
  "incident.update_overdue": TEAM_ONLY,
  "maintenance.scheduled": PLANNED_WORK,
  "maintenance.reminder": PLANNED_WORK,
  "maintenance.started": PLANNED_WORK,
  "maintenance.completed": PLANNED_WORK,
  "maintenance.cancelled": PLANNED_WORK,
  /** an overrun is an outage: said in public too */
  "maintenance.overran": PUBLIC_NEWS,
  "monitor.down": TEAM_ONLY,
  "monitor.recovered": TEAM_ONLY,
  /** an alert integration's alerts fired, or all resolved (onFailure: alert_team) */
  "integration.down": TEAM_ONLY,
  "integration.recovered": TEAM_ONLY,
  /** customers' reports on a part with no incident passed the threshold */
  "reports.threshold": TEAM_ONLY,
  /** paid SMS wait for a person's go-ahead */
  "notifications.confirmation_needed": TEAM_ONLY,
  /** an open incident's current state, to a customer who got stuck after its latest update */
  "incident.affected": ONE_CUSTOMER,
  /** the acknowledgement of a customer's report, to that customer */
  "report.received": ONE_CUSTOMER,
  /** what a customer got for an incident, to that customer */
  "compensation.granted": ONE_CUSTOMER,
  /** the letter after an incident, to each customer it reached */
  "postmortem.published": ONE_CUSTOMER,
};

/** Whether an event of this kind may reach this audience. */
const mayReach = (event: string, audience: Audience): boolean =>
  EVENT_AUDIENCES[event]?.includes(audience) ?? false;

/**
 * The audience a delivery's recipient belongs to: `team:n`, `social:mastodon`, `customer:id`,
 * or `subscriber:id` (a webhook subscriber when the channel is a webhook).
 */
export function audienceOf(recipient: string, channel: string): Audience | undefined {
  const kind = recipient.slice(0, recipient.indexOf(":"));
  if (kind === "team") return "team";
  if (kind === "social") return "social";
  if (kind === "customer") return "customers";
  if (kind === "subscriber") return channel === "webhook" ? "webhooks" : "subscribers";
  return undefined;
}

/**
 * An event may narrow its audiences further (an emergency protocol addressed to, say, the team
 * and subscribers only): `payload.channels` lists team, subscribers, customers and social;
 * webhooks go with subscribers. Never wider than the table.
 */
export function reachesAudience(
  event: string,
  payload: Readonly<Record<string, unknown>>,
  audience: Audience,
): boolean {
  if (!mayReach(event, audience)) return false;
  const narrowed = payload.channels;
  if (!Array.isArray(narrowed)) return true;
  return narrowed.includes(audience === "webhooks" ? "subscribers" : audience);
}
