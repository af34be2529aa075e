/**
 * "I am affected" reports: written with everything that follows from them in one transaction —
 * the link to the open incident on that component, the acknowledgement by e-mail (outbox), and,
 * when no incident is open there, the team's alert once reports pass the threshold.
 */
import { and, desc, eq, gte, type SQL } from "drizzle-orm";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";
import { z } from "zod";
import { listPolicies, loadPolicy } from "../compensation/policies.ts";
import { listComponents } from "../components/store.ts";
import { unknownReference } from "../core/errors.ts";
import {
  burstAlertDue,
  incidentForReport,
  type OpenIncidentRef,
  policyCovers,
  type ReportThreshold,
  relatedComponents,
} from "../core/reports.ts";
import { componentPath } from "../core/wording.ts";
import { newId } from "../lib/ids.ts";
import { loadNotificationSettings } from "../notifications/settings.ts";
import type { Database, Db } from "../storage/database.ts";
import { affectedReports, outboxMessages } from "../storage/schema.ts";

export const ReportBody = z.strictObject({
  component: z.string().trim().min(1).max(64).describe("the component that failed for you"),
  city: z.string().trim().max(64).optional().describe("where, e.g. milan"),
  contact: z
    .string()
    .trim()
    .max(200)
    .optional()
    .describe("your customer number, e-mail or phone: we write back to an e-mail"),
  text: z.string().trim().max(2_000, "at most 2,000 characters").default("").describe("what failed"),
  locale: z
    .string()
    .regex(/^[a-z]{2}(-[A-Z]{2})?$/)
    .default("en"),
});
export type ReportBody = z.infer<typeof ReportBody>;

export type Report = typeof affectedReports.$inferSelect;

export interface ReportOutcome {
  report: Report;
  incident: { id: string; title: string; titleTranslations: Record<string, string> } | null;
  /** a compensation policy covers the incident: the customer need not claim anything */
  noClaimNeeded: boolean;
  /** whether this report tipped the component over the threshold and alerted the team */
  alerted: boolean;
}

/** A contact as given: an e-mail, a phone number, or else a customer reference. */
export function readContact(contact: string | undefined): { channel: string; value: string } | undefined {
  if (!contact) return undefined;
  if (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(contact)) return { channel: "email", value: contact.toLowerCase() };
  if (/^\+?[\d\s().-]{7,}$/.test(contact)) {
    const phone = parsePhoneNumberFromString(contact);
    if (phone?.isValid()) return { channel: "sms", value: phone.number };
  }
  return { channel: "reference", value: contact };
}

async function findCustomer(
  database: Database,
  workspaceId: string,
  contact: { channel: string; value: string },
): Promise<{ id: string; locale: string } | undefined> {
  const rows = await database.query<{ id: string; locale: string }>(
    contact.channel === "reference"
      ? "select id, locale from customers where workspace_id = $1 and id = $2"
      : `select id, locale from customers where workspace_id = $1
          and channels @> jsonb_build_array(jsonb_build_object('address', $2::text)) limit 1`,
    [workspaceId, contact.value],
  );
  return rows[0];
}

async function openIncidents(database: Database, workspaceId: string) {
  const rows = await database.query<{
    id: string;
    title: string;
    title_translations: Record<string, string>;
    started_at: Date;
    components: string[] | null;
  }>(
    `select i.id, i.title, i.title_translations, i.started_at,
            array_agg(c.component_id) filter (where c.component_id is not null) as components
       from incidents i
       left join incident_components c on c.workspace_id = i.workspace_id and c.incident_id = i.id
      where i.workspace_id = $1 and i.resolved_at is null
      group by i.id, i.title, i.title_translations, i.started_at`,
    [workspaceId],
  );
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    titleTranslations: r.title_translations ?? {},
    startedAt: new Date(r.started_at),
    componentIds: r.components ?? [],
  }));
}

/** Whether any saved policy (its latest version) pays out for this incident. */
async function compensationCovers(
  db: Db,
  workspaceId: string,
  incident: OpenIncidentRef,
  components: Awaited<ReturnType<typeof listComponents>>,
): Promise<boolean> {
  for (const p of await listPolicies(db, workspaceId)) {
    const stored = await loadPolicy(db, workspaceId, p.id).catch(() => undefined);
    if (stored && policyCovers(stored.policy.match, incident, components)) return true;
  }
  return false;
}

export async function submitReport(
  database: Database,
  workspaceId: string,
  body: ReportBody,
  now: Date,
): Promise<ReportOutcome> {
  const components = await listComponents(database.db, workspaceId);
  const component = components.find((c) => c.id === body.component);
  if (!component) throw unknownReference("component", "component", body.component);
  const { settings } = await loadNotificationSettings(database.db, workspaceId);
  const threshold: ReportThreshold = {
    threshold: settings.reports.threshold,
    windowMs: settings.reports.window_minutes * 60_000,
  };
  const contact = readContact(body.contact);
  const customer = contact ? await findCustomer(database, workspaceId, contact) : undefined;
  const related = relatedComponents(components, component.id);
  const open = await openIncidents(database, workspaceId);
  const linked = incidentForReport(open, related) as (typeof open)[number] | undefined;
  const noClaimNeeded = linked
    ? await compensationCovers(database.db, workspaceId, linked, components)
    : false;

  return database.transaction(async (tx) => {
    const id = newId("rpt");
    const [report] = await tx.db
      .insert(affectedReports)
      .values({
        workspaceId,
        id,
        componentId: component.id,
        city: body.city || component.region || null,
        incidentId: linked?.id ?? null,
        customerId: customer?.id ?? null,
        contact: contact?.value ?? null,
        contactChannel: contact?.channel ?? null,
        locale: body.locale,
        text: body.text,
        createdAt: now,
      })
      .returning();

    // The acknowledgement by e-mail, in the reader's language, when we have an address to write to.
    if (contact?.channel === "email") {
      await tx.db
        .insert(outboxMessages)
        .values({
          workspaceId,
          id: newId("msg"),
          idempotencyKey: `report:${id}:ack`,
          event: "report.received",
          incidentId: linked?.id ?? null,
          customerId: customer?.id ?? `report:${id}`,
          channel: "email",
          address: contact.value,
          locale: body.locale,
          template: "report.received",
          payload: {
            report_id: id,
            incident_id: linked?.id ?? null,
            title: linked?.title ?? componentPath(components, component.id),
            title_translations: linked?.titleTranslations ?? {},
            linked: Boolean(linked),
            no_claim_needed: noClaimNeeded,
          },
          status: "pending",
          createdAt: now,
        })
        .onConflictDoNothing();
    }

    let alerted = false;
    if (!linked) {
      // Customers as a monitor: reports on this part of the tree in the window, and our last alert about it.
      const since = new Date(now.getTime() - threshold.windowMs).toISOString();
      const [count] = await tx.query<{ n: number }>(
        `select count(*)::int as n from affected_reports
          where workspace_id = $1 and component_id = any($2::text[]) and incident_id is null and created_at > $3`,
        [workspaceId, [...related], since],
      );
      const [last] = await tx.query<{ at: Date | null }>(
        `select max(created_at) as at from outbox_messages
          where workspace_id = $1 and event = 'reports.threshold' and payload->>'component_id' = $2`,
        [workspaceId, component.id],
      );
      if (burstAlertDue(count?.n ?? 0, last?.at ? new Date(last.at) : null, now, threshold)) {
        await tx.db
          .insert(outboxMessages)
          .values({
            workspaceId,
            id: newId("msg"),
            // One alert per component per window-long slot, even if two servers decide at once.
            idempotencyKey: `reports:${component.id}:${Math.floor(now.getTime() / threshold.windowMs)}`,
            event: "reports.threshold",
            incidentId: null,
            customerId: null,
            channel: "team",
            locale: settings.fallback_locale,
            template: "reports.threshold",
            payload: {
              component_id: component.id,
              // "Payments › Rome", not "Rome": the team must see which Rome.
              title: componentPath(components, component.id),
              count: count?.n ?? 0,
              window_minutes: settings.reports.window_minutes,
              components: [component.id],
            },
            status: "pending",
            createdAt: now,
          })
          .onConflictDoNothing();
        alerted = true;
      }
    }
    return {
      report: report!,
      incident: linked
        ? { id: linked.id, title: linked.title, titleTranslations: linked.titleTranslations }
        : null,
      noClaimNeeded,
      alerted,
    };
  });
}

export interface ReportFilter {
  incidentId?: string;
  componentId?: string;
  since?: Date;
  limit: number;
}

export async function listReports(db: Db, workspaceId: string, f: ReportFilter): Promise<Report[]> {
  const where: SQL[] = [eq(affectedReports.workspaceId, workspaceId)];
  if (f.incidentId) where.push(eq(affectedReports.incidentId, f.incidentId));
  if (f.componentId) where.push(eq(affectedReports.componentId, f.componentId));
  if (f.since) where.push(gte(affectedReports.createdAt, f.since));
  return db
    .select()
    .from(affectedReports)
    .where(and(...where))
    .orderBy(desc(affectedReports.createdAt))
    .limit(f.limit);
}
