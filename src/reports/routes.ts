/**
 * "I am affected" over HTTP: the status page's plain form (POST /report, answered in HTML in the
 * page's language, no JavaScript), the public API (POST /api/v1/public/reports, JSON), and the
 * operators' list. Abuse: per-IP and per-contact rate limits, small bodies, and on the form a
 * honeypot field and a signed render time (too fast, or too old, is refused) — no captcha.
 */

import type { FastifyInstance, FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { DatabaseLimiter } from "../access/rate-limit-store.ts";
import { AmendsError } from "../core/errors.ts";
import { formSuspicion } from "../core/reports.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { acceptForms, field } from "../http/forms.ts";
import { toAmendsError } from "../http/problem.ts";
import { Id, Instant, iso } from "../http/zod.ts";
import { isLocale, type Locale, localized, t } from "../i18n/catalog.ts";
import { negotiateLocale } from "../i18n/negotiate.ts";
import { html } from "../lib/html.ts";
import { localePath, renderSimplePage } from "../status-page/render-html.ts";
import type { Database } from "../storage/database.ts";
import { defaultWorkspace } from "../workspaces/store.ts";
import { readFormTime } from "./form-token.ts";
import { listReports, ReportBody, type ReportOutcome, submitReport } from "./store.ts";

/** A person needs more than this to pick a component and type a line. */
export const MIN_FILL_MS = 3_000;
const MAX_FORM_AGE_MS = 24 * 3_600_000;
const FORM_BODY_LIMIT = 16 * 1024;

/** Counted in the database, so every process behind it counts the same reports. */
export const reportLimits = (database: Database) => ({
  perIp: new DatabaseLimiter(database, "report:ip", 10, 10 * 60_000),
  perContact: new DatabaseLimiter(database, "report:contact", 3, 60 * 60_000),
});
type Limits = ReturnType<typeof reportLimits>;

/** Without a locale, the acknowledgement follows Accept-Language. */
const PublicReportBody = ReportBody.extend({
  locale: z
    .string()
    .regex(/^[a-z]{2}(-[A-Z]{2})?$/)
    .optional(),
});

/** The acknowledgement, in the reader's language: the same words in the HTML page and the JSON. */
function acknowledgement(outcome: ReportOutcome, locale: Locale, emailed: string | undefined) {
  const incident = outcome.incident;
  return [
    t(locale, "reportThanks"),
    incident
      ? t(locale, "reportLinked", { title: localized(incident.title, incident.titleTranslations, locale) })
      : t(locale, "reportPassed"),
    ...(outcome.noClaimNeeded ? [t(locale, "reportNoClaim")] : []),
    ...(emailed ? [t(locale, "reportEmailSent", { address: emailed })] : []),
  ];
}

const incidentPath = (locale: Locale, id: string) =>
  localePath(locale, `/incidents/${encodeURIComponent(id)}`);

async function limit(limits: Limits, ip: string, contact: string | undefined, now: Date) {
  if (!(await limits.perIp.take(ip, now))) return false;
  return !contact || limits.perContact.take(contact.trim().toLowerCase(), now);
}

export const reportRoutes =
  (ctx: ApiContext, limits: Limits): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["reports"];
    app.post(
      "/public/reports",
      {
        bodyLimit: FORM_BODY_LIMIT,
        schema: {
          operationId: "createPublicReport",
          tags,
          summary:
            "I am affected (no token): say what failed and where; linked to the open incident, acknowledged at once",
          body: PublicReportBody,
          security: [],
        },
      },
      async (req, reply) => {
        const now = ctx.now();
        if (!(await limit(limits, req.ip, req.body.contact, now)))
          throw new AmendsError("RATE_LIMITED", "too many reports from here or for this contact; try later");
        const ws = await defaultWorkspace(ctx.db);
        if (!ws) throw new AmendsError("NOT_FOUND", "there is no workspace yet");
        const locale = negotiateLocale({ lang: req.body.locale }, req.headers["accept-language"]);
        const outcome = await submitReport(ctx.database, ws.id, { ...req.body, locale }, now);
        const base = (ws.publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/$/, "");
        const emailed = outcome.report.contactChannel === "email" ? outcome.report.contact! : undefined;
        return reply.code(201).send({
          id: outcome.report.id,
          status: "received",
          locale,
          component: outcome.report.componentId,
          city: outcome.report.city,
          incident: outcome.incident
            ? {
                id: outcome.incident.id,
                title: localized(outcome.incident.title, outcome.incident.titleTranslations, locale),
                url: `${base}${incidentPath(locale, outcome.incident.id)}`,
              }
            : null,
          no_claim_needed: outcome.noClaimNeeded,
          acknowledgement_sent_to: emailed ?? null,
          message: acknowledgement(outcome, locale, emailed).join(" "),
        });
      },
    );
    app.get(
      "/reports",
      {
        schema: {
          operationId: "listReports",
          tags,
          summary: "What customers reported, newest first",
          querystring: z.object({
            incident: Id.optional(),
            component: Id.optional(),
            since: Instant.optional(),
            limit: z.coerce.number().int().min(1).max(1_000).default(100),
          }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const rows = await listReports(ctx.db, principal(req).workspaceId, {
          incidentId: req.query.incident,
          componentId: req.query.component,
          since: req.query.since,
          limit: req.query.limit,
        });
        return {
          reports: rows.map((r) => ({
            id: r.id,
            component: r.componentId,
            city: r.city,
            incident_id: r.incidentId,
            customer_id: r.customerId,
            contact: r.contact,
            contact_channel: r.contactChannel,
            locale: r.locale,
            text: r.text,
            created_at: iso(r.createdAt),
          })),
        };
      },
    );
  };

type ReportField = "component" | "city" | "contact" | "text" | "locale" | "ft" | "website";

/** The status page's form: plain HTML in, plain HTML out, in the page's language. */
export async function reportPages(app: FastifyInstance, ctx: ApiContext, limits: Limits) {
  acceptForms(app);
  const page = (reply: FastifyReply, status: number, locale: Locale, paragraphs: ReturnType<typeof html>) =>
    reply
      .code(status)
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .send(renderSimplePage(t(locale, "reportTitle"), paragraphs, locale));

  app.post("/report", { bodyLimit: FORM_BODY_LIMIT }, async (req, reply) => {
    const form = (name: ReportField) => field(req.body, name);
    const asked = form("locale");
    const locale: Locale = isLocale(asked) ? asked : negotiateLocale({}, req.headers["accept-language"]);
    const now = ctx.now();
    const back = html`<p><a href="${localePath(locale, "/")}#report">${t(locale, "reportRetry")}</a></p>`;
    if (!(await limit(limits, req.ip, form("contact"), now)))
      return page(reply, 429, locale, html`<p>${t(locale, "reportTooMany")}</p>`);
    const ws = await defaultWorkspace(ctx.db);
    if (!ws) throw new AmendsError("NOT_FOUND", "there is no workspace yet");
    const suspicion = formSuspicion(
      { honeypot: form("website"), renderedAt: readFormTime(ws.linkSecret, form("ft")) },
      now.getTime(),
      MIN_FILL_MS,
      MAX_FORM_AGE_MS,
    );
    // A filled honeypot is a bot: thank it and write nothing, so it learns nothing.
    if (suspicion === "honeypot") return page(reply, 200, locale, html`<p>${t(locale, "reportThanks")}</p>`);
    if (suspicion) {
      req.log.info({ suspicion }, "report form refused");
      return page(reply, 400, locale, html`<p>${t(locale, "reportRetry")}</p>${back}`);
    }
    const body = ReportBody.safeParse({
      component: form("component") ?? "",
      city: form("city") || undefined,
      contact: form("contact") || undefined,
      text: form("text") ?? "",
      locale,
    });
    if (!body.success) {
      const field = String(body.error.issues[0]?.path[0] ?? "component");
      return page(reply, 400, locale, html`<p>${t(locale, "reportInvalid", { field })}</p>${back}`);
    }
    let outcome: ReportOutcome;
    try {
      outcome = await submitReport(ctx.database, ws.id, body.data, now);
    } catch (err) {
      const known = toAmendsError(err);
      if (!known || known.status >= 500) throw err;
      const field = known.fields[0]?.field ?? "component";
      return page(reply, known.status, locale, html`<p>${t(locale, "reportInvalid", { field })}</p>${back}`);
    }
    const emailed = outcome.report.contactChannel === "email" ? outcome.report.contact! : undefined;
    const [thanks, ...rest] = acknowledgement(outcome, locale, emailed);
    return page(
      reply,
      201,
      locale,
      html`<p role="status"><strong>${thanks}</strong></p>${rest.map((p) => html`<p>${p}</p>`)}${
        outcome.incident
          ? html`<p><a href="${incidentPath(locale, outcome.incident.id)}">${t(locale, "reportFollow")}</a></p>`
          : ""
      }`,
    );
  });
}
