/**
 * What a client written for Atlassian Statuspage's public API v2 expects, from its documented
 * objects: required fields, their types and their enums. Unknown extra fields are allowed, as
 * such clients ignore them.
 */
import { z } from "zod";

const ts = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "timestamp");
const nts = ts.nullable();

export const Page = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string().url(),
  time_zone: z.string(),
  updated_at: ts,
});
export const Status = z.object({
  indicator: z.enum(["none", "minor", "major", "critical", "maintenance"]),
  description: z.string(),
});
export const Component = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum([
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
  ]),
  created_at: ts,
  updated_at: ts,
  position: z.number().int(),
  description: z.string().nullable(),
  showcase: z.boolean(),
  start_date: z.string().nullable(),
  group_id: z.string().nullable(),
  page_id: z.string(),
  group: z.boolean(),
  only_show_if_degraded: z.boolean(),
  components: z.array(z.string()).optional(),
});
export const IncidentUpdate = z.object({
  id: z.string(),
  status: z.enum(["investigating", "identified", "monitoring", "resolved", "postmortem"]),
  body: z.string(),
  incident_id: z.string(),
  created_at: ts,
  updated_at: ts,
  display_at: ts,
  affected_components: z
    .array(z.object({ code: z.string(), name: z.string(), old_status: z.string(), new_status: z.string() }))
    .nullable(),
  deliver_notifications: z.boolean(),
  custom_tweet: z.string().nullable(),
  tweet_id: z.string().nullable(),
});
export const Incident = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(["investigating", "identified", "monitoring", "resolved", "postmortem"]),
  created_at: ts,
  updated_at: ts,
  monitoring_at: nts,
  resolved_at: nts,
  impact: z.enum(["none", "minor", "major", "critical"]),
  shortlink: z.string(),
  started_at: ts,
  page_id: z.string(),
  incident_updates: z.array(IncidentUpdate),
  components: z.array(Component),
});
const MAINTENANCE_STATUS = z.enum(["scheduled", "in_progress", "verifying", "completed"]);
export const ScheduledMaintenance = Incident.extend({
  status: MAINTENANCE_STATUS,
  incident_updates: z.array(IncidentUpdate.extend({ status: MAINTENANCE_STATUS })),
  impact: z.enum(["none", "minor", "major", "critical", "maintenance"]),
  scheduled_for: ts,
  scheduled_until: ts,
});

export const Summary = z.object({
  page: Page,
  status: Status,
  components: z.array(Component),
  incidents: z.array(Incident),
  scheduled_maintenances: z.array(ScheduledMaintenance),
});
export const StatusDoc = z.object({ page: Page, status: Status });
export const ComponentsDoc = z.object({ page: Page, components: z.array(Component) });
export const IncidentsDoc = z.object({ page: Page, incidents: z.array(Incident) });
export const MaintenancesDoc = z.object({
  page: Page,
  scheduled_maintenances: z.array(ScheduledMaintenance),
});
