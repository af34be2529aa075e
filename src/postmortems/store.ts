/**
 * Post-incident reports: drafted from the incident's timeline, the customers its failure
 * touched (per city) and the compensation run's totals; edited; published on one public page
 * per incident and sent once to each affected customer, in their language, through the outbox
 * (key `postmortem:<incident>:<customer>`, so publishing again sends nothing twice).
 */
import { and, desc, eq } from "drizzle-orm";
import { loadRunReport } from "../compensation/report.ts";
import { runJson } from "../compensation/run-json.ts";
import { listRuns } from "../compensation/runs.ts";
import { listComponents } from "../components/store.ts";
import { subtreeIds } from "../core/components.ts";
import { conflict, invalidField, notFound } from "../core/errors.ts";
import type { Incident } from "../core/incidents.ts";
import { regionNames } from "../core/wording.ts";
import { getIncident } from "../incidents/store.ts";
import { loadNotificationSettings } from "../notifications/settings.ts";
import type { Database, Db } from "../storage/database.ts";
import { postIncidentReports, workspaces } from "../storage/schema.ts";
import { draftLetter, LETTER_LOCALES, type LetterFigures, SECTIONS, type Sections } from "./letter.ts";

export type PostIncidentReport = typeof postIncidentReports.$inferSelect;

/**
 * Customers the incident touched, one row each: a usage session on the failed components
 * (with their subtrees) during the incident, a line in one of its compensation runs, an
 * "I am affected" report linked to it, or one of its messages delivered to them as an affected
 * customer. City: the session's region, else the customer's home.
 */
function affectedCustomersSql(): string {
  return `with touched as (
      select s.customer_id, s.region from usage_sessions s
       where s.workspace_id = $1 and s.component_id = any($2::text[])
         and s.started_at < $4 and (s.ended_at is null or s.ended_at > $3)
      union all
      select l.customer_id, null from comp_run_lines l
        join comp_runs r on r.workspace_id = l.workspace_id and r.id = l.run_id
       where l.workspace_id = $1 and r.incident_id = $5
      union all
      select customer_id, city from affected_reports
       where workspace_id = $1 and incident_id = $5 and customer_id is not null
      union all
      -- those the incident's own messages reached as affected customers: the letter counts them all
      select substr(d.recipient, 10), null from outbox_messages o
        join deliveries d on d.workspace_id = o.workspace_id and d.event_id = o.id
       where o.workspace_id = $1 and o.incident_id = $5 and o.event like 'incident.%'
         and d.recipient like 'customer:%' and d.status = 'sent'
    ), affected as (
      select c.id, coalesce(max(t.region), c.home_region, '?') as city, c.locale,
             c.channels->0->>'type' as channel, c.channels->0->>'address' as address
        from touched t join customers c on c.workspace_id = $1 and c.id = t.customer_id
       group by c.workspace_id, c.id
    )`;
}

async function affectedParams(db: Db, workspaceId: string, incident: Incident) {
  const components = await listComponents(db, workspaceId);
  const ids = new Set<string>();
  for (const c of incident.components) for (const id of subtreeIds(components, c.componentId)) ids.add(id);
  const end = incident.resolvedAt ?? incident.updatedAt;
  return [workspaceId, [...ids], incident.startedAt.toISOString(), end.toISOString(), incident.id];
}

/**
 * Customers the incident touches, per city (the same count the letter states), while it is
 * open too: up to now, or to its resolution.
 */
export async function affectedByCity(
  database: Database,
  workspaceId: string,
  incident: Incident,
  now: Date,
): Promise<{ city: string; customers: number }[]> {
  const params = await affectedParams(database.db, workspaceId, incident);
  params[3] = (incident.resolvedAt ?? now).toISOString();
  return database.query<{ city: string; customers: number }>(
    `${affectedCustomersSql()} select city, count(*)::int as customers from affected group by city order by 2 desc, 1`,
    params,
  );
}

export async function loadFigures(
  database: Database,
  workspaceId: string,
  incident: Incident,
): Promise<LetterFigures & { compensationByCity?: unknown }> {
  const params = await affectedParams(database.db, workspaceId, incident);
  const placeName = regionNames(await listComponents(database.db, workspaceId));
  const cities = (
    await database.query<{ city: string; customers: number }>(
      `${affectedCustomersSql()} select city, count(*)::int as customers from affected group by city order by 2 desc, 1`,
      params,
    )
  ).map((c) => ({ ...c, name: c.city === "?" ? undefined : placeName(c.city) }));
  // The run that pays: applied first, else approved, else the latest preview.
  const runs = await listRuns(database.db, workspaceId, incident.id);
  const rank = (s: string) => ["applied", "approved", "previewed"].indexOf(s);
  const run = runs
    .filter((r) => rank(r.status) >= 0)
    .sort((a, b) => rank(a.status) - rank(b.status) || b.createdAt.getTime() - a.createdAt.getTime())[0];
  if (!run) return { cities, compensation: null };
  const report = await loadRunReport(database, workspaceId, runJson(run));
  const summary = run.summary as { money?: Record<string, number>; units?: Record<string, number> };
  const customers = await database.query<{ n: number }>(
    `select count(distinct customer_id)::int as n from comp_run_lines where workspace_id = $1 and run_id = $2 and amount > 0`,
    [workspaceId, run.id],
  );
  return {
    cities,
    compensation: {
      runId: run.id,
      status: run.status,
      money: summary.money ?? {},
      units: summary.units ?? {},
      customers: customers[0]?.n ?? 0,
    },
    compensationByCity: report.byCity,
  };
}

export async function getReport(db: Db, workspaceId: string, incidentId: string) {
  const [row] = await db
    .select()
    .from(postIncidentReports)
    .where(
      and(eq(postIncidentReports.workspaceId, workspaceId), eq(postIncidentReports.incidentId, incidentId)),
    );
  if (!row) throw notFound("post-incident report", incidentId);
  return row;
}

export async function listPublishedReports(db: Db, workspaceId: string, limit = 200) {
  return db
    .select()
    .from(postIncidentReports)
    .where(and(eq(postIncidentReports.workspaceId, workspaceId), eq(postIncidentReports.status, "published")))
    .orderBy(desc(postIncidentReports.publishedAt))
    .limit(limit);
}

/** Drafts (or drafts again, while unpublished) the letter for a resolved incident. */
export async function draftReport(database: Database, workspaceId: string, incidentId: string, now: Date) {
  const incident = await getIncident(database.db, workspaceId, incidentId);
  if (!incident.resolvedAt) throw conflict(`incident "${incidentId}" is not resolved yet`);
  const existing = await getReport(database.db, workspaceId, incidentId).catch(() => undefined);
  if (existing?.status === "published") throw conflict("this report is published; edit it instead");
  const [ws] = await database.db
    .select({ timeZone: workspaces.timeZone })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  const { settings } = await loadNotificationSettings(database.db, workspaceId);
  const figures = await loadFigures(database, workspaceId, incident);
  const original = (LETTER_LOCALES as string[]).includes(settings.fallback_locale)
    ? (settings.fallback_locale as (typeof LETTER_LOCALES)[number])
    : "en";
  const sections = draftLetter(incident, figures, original, ws!.timeZone);
  const translations = Object.fromEntries(
    LETTER_LOCALES.filter((l) => l !== original).map((l) => [
      l,
      draftLetter(incident, figures, l, ws!.timeZone),
    ]),
  );
  const values = {
    status: "draft",
    sections,
    translations,
    figures: { ...figures, original_locale: original } as Record<string, unknown>,
    updatedAt: now,
  };
  const [row] = await database.db
    .insert(postIncidentReports)
    .values({ workspaceId, incidentId, createdAt: now, ...values })
    .onConflictDoUpdate({
      target: [postIncidentReports.workspaceId, postIncidentReports.incidentId],
      set: values,
    })
    .returning();
  return row!;
}

export interface ReportEdit {
  sections?: Partial<Sections>;
  translations?: Record<string, Partial<Sections>>;
}

export async function editReport(
  db: Db,
  workspaceId: string,
  incidentId: string,
  edit: ReportEdit,
  now: Date,
) {
  const report = await getReport(db, workspaceId, incidentId);
  const translations = { ...report.translations };
  for (const [locale, s] of Object.entries(edit.translations ?? {}))
    translations[locale] = { ...(translations[locale] ?? {}), ...s };
  const [row] = await db
    .update(postIncidentReports)
    .set({ sections: { ...report.sections, ...edit.sections }, translations, updatedAt: now })
    .where(
      and(eq(postIncidentReports.workspaceId, workspaceId), eq(postIncidentReports.incidentId, incidentId)),
    )
    .returning();
  return row!;
}

/**
 * The letter states the facts as they are when it is sent, not when it was drafted: the
 * sections the operator left as drafted (what happened, what happens now) are drafted again
 * from today's figures, e.g. compensation applied since, or more customers reached. Sections
 * the operator rewrote are theirs and stay as written.
 */
async function factsAsOfNow(
  database: Database,
  workspaceId: string,
  incident: Incident,
  report: PostIncidentReport,
): Promise<Pick<PostIncidentReport, "sections" | "translations" | "figures">> {
  const [ws] = await database.db
    .select({ timeZone: workspaces.timeZone })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  const then = report.figures as unknown as LetterFigures & { original_locale?: string };
  const original = (LETTER_LOCALES as string[]).includes(then.original_locale ?? "")
    ? (then.original_locale as (typeof LETTER_LOCALES)[number])
    : "en";
  const figures = await loadFigures(database, workspaceId, incident);
  const refresh = (locale: (typeof LETTER_LOCALES)[number], written: Partial<Sections>) => {
    const drafted = draftLetter(incident, then, locale, ws!.timeZone);
    const current = draftLetter(incident, figures, locale, ws!.timeZone);
    const out = { ...written };
    for (const key of ["what_happened", "what_now"] as const)
      if (written[key] === drafted[key]) out[key] = current[key];
    return out;
  };
  const translations = Object.fromEntries(
    Object.entries(report.translations).map(([locale, written]) => [
      locale,
      (LETTER_LOCALES as string[]).includes(locale)
        ? refresh(locale as (typeof LETTER_LOCALES)[number], written)
        : written,
    ]),
  );
  return {
    sections: refresh(original, report.sections) as Sections,
    translations,
    figures: { ...figures, original_locale: original } as Record<string, unknown>,
  };
}

/**
 * Publishes the letter and queues it, once per affected customer who has a channel, in their
 * language. Publishing again (after an edit) queues nothing new: each customer's key exists.
 */
export async function publishReport(
  database: Database,
  workspaceId: string,
  incidentId: string,
  now: Date,
): Promise<{ report: PostIncidentReport; queued: number }> {
  const report = await getReport(database.db, workspaceId, incidentId);
  for (const key of SECTIONS)
    if (!report.sections[key]?.trim())
      throw invalidField(`sections.${key}`, "write this section before publishing");
  const incident = await getIncident(database.db, workspaceId, incidentId);
  const params = await affectedParams(database.db, workspaceId, incident);
  const facts =
    report.status === "published" ? {} : await factsAsOfNow(database, workspaceId, incident, report);
  return database.transaction(async (tx) => {
    const [row] = await tx.db
      .update(postIncidentReports)
      .set({ ...facts, status: "published", publishedAt: report.publishedAt ?? now, updatedAt: now })
      .where(
        and(eq(postIncidentReports.workspaceId, workspaceId), eq(postIncidentReports.incidentId, incidentId)),
      )
      .returning();
    const payload = {
      incident_id: incident.id,
      title: incident.title,
      title_translations: incident.titleTranslations,
      sections: row!.sections,
      translations: row!.translations,
      page_path: `/incidents/${encodeURIComponent(incident.id)}/report`,
    };
    const queued = await tx.query<{ n: number }>(
      `${affectedCustomersSql()}, inserted as (
         insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel,
                                      address, locale, template, payload, status, created_at)
         select $1, 'msg_' || replace(gen_random_uuid()::text, '-', ''),
                'postmortem:' || $5 || ':' || a.id, 'postmortem.published', $5, a.id, a.channel, a.address, a.locale,
                'postmortem.published', $6::jsonb, 'pending', $7
           from affected a where a.channel is not null and a.address is not null
         on conflict (workspace_id, idempotency_key) do nothing
         returning 1)
       select count(*)::int as n from inserted`,
      [...params, JSON.stringify(payload), now.toISOString()],
    );
    return { report: row!, queued: queued[0]?.n ?? 0 };
  });
}
