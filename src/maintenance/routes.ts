import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { parseDuration } from "../core/compensation/time.ts";
import { invalidField } from "../core/errors.ts";
import { MAINTENANCE_STATUSES, type Maintenance } from "../core/maintenance.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Body, Id, Instant, InstantOut, iso, pickTranslations, Title, Translations } from "../http/zod.ts";
import {
  cancelSeries,
  closeMaintenance,
  createMaintenance,
  createSeries,
  getMaintenance,
  listMaintenances,
  listSeries,
  type MaintenanceSeries,
} from "./store.ts";

const MaintenanceOut = z.object({
  id: z.string(),
  title: z.string(),
  title_translations: z.record(z.string(), z.string()),
  body: z.string(),
  body_translations: z.record(z.string(), z.string()),
  components: z.array(z.string()),
  starts_at: InstantOut,
  ends_at: InstantOut,
  auto_start: z.boolean(),
  auto_end: z.boolean(),
  overrun_after_minutes: z.number(),
  status: z.enum(MAINTENANCE_STATUSES),
  started_at: InstantOut.nullable(),
  completed_at: InstantOut.nullable(),
  overrun_incident_id: z.string().nullable(),
  series_id: z.string().nullable(),
});

const json = (m: Maintenance): z.infer<typeof MaintenanceOut> => ({
  id: m.id,
  title: m.title,
  title_translations: m.titleTranslations,
  body: m.body,
  body_translations: m.bodyTranslations,
  components: m.components,
  starts_at: iso(m.startsAt)!,
  ends_at: iso(m.endsAt)!,
  auto_start: m.autoStart,
  auto_end: m.autoEnd,
  overrun_after_minutes: m.overrunAfterMs / 60_000,
  status: m.status,
  started_at: iso(m.startedAt),
  completed_at: iso(m.completedAt),
  overrun_incident_id: m.overrunIncidentId,
  series_id: m.seriesId ?? null,
});

const Create = z.strictObject({
  id: Id.optional(),
  title: Title,
  body: Body,
  components: z.array(Id).max(1_000).default([]),
  starts_at: Instant,
  ends_at: Instant,
  auto_start: z.boolean().default(true).describe("start at starts_at by itself"),
  auto_end: z
    .boolean()
    .default(false)
    .describe("end at ends_at by itself; otherwise someone completes it, or it overruns"),
  overrun_after: z
    .string()
    .default("PT15M")
    .describe("ISO 8601 duration past ends_at after which an open window becomes an incident"),
  translations: Translations.optional(),
});

const SeriesOut = z.object({
  id: z.string(),
  title: z.string(),
  components: z.array(z.string()),
  first_start: z.string(),
  time_zone: z.string(),
  rrule: z.string(),
  duration_minutes: z.number(),
  auto_start: z.boolean(),
  auto_end: z.boolean(),
  overrun_after_minutes: z.number(),
  cancelled_at: InstantOut.nullable(),
});
const seriesJson = (s: MaintenanceSeries): z.infer<typeof SeriesOut> => ({
  id: s.id,
  title: s.title,
  components: s.components,
  first_start: s.firstStart,
  time_zone: s.timeZone,
  rrule: s.rrule,
  duration_minutes: s.durationMs / 60_000,
  auto_start: s.autoStart,
  auto_end: s.autoEnd,
  overrun_after_minutes: s.overrunAfterMs / 60_000,
  cancelled_at: iso(s.cancelledAt),
});

const CreateSeries = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,47}$/, "1–48 letters, digits, '.', '_', ':' or '-'")
    .optional()
    .describe("occurrences are <id>.<local start>, e.g. db-upgrade.20260301T0200"),
  title: Title,
  body: Body,
  components: z.array(Id).max(1_000).default([]),
  first_start: z.string().describe("local date-time of the first window, no offset: 2026-03-01T02:00"),
  time_zone: z.string().describe("IANA time zone the rule repeats in, e.g. Europe/Rome"),
  rrule: z.string().max(500).describe("RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU"),
  duration: z.string().describe("ISO 8601 duration of each window, e.g. PT2H"),
  auto_start: z.boolean().default(true),
  auto_end: z.boolean().default(false),
  overrun_after: z.string().default("PT15M"),
  translations: Translations.optional(),
});

const durationField = (field: string, value: string) => {
  try {
    return parseDuration(value);
  } catch (err) {
    throw invalidField(field, (err as Error).message);
  }
};

export const maintenanceRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["maintenance"];
    app.post(
      "/maintenances",
      {
        schema: {
          operationId: "createMaintenance",
          tags,
          summary: "Schedule a maintenance window",
          body: Create,
          response: { 201: MaintenanceOut },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const b = req.body;
        const overrunAfterMs = durationField("overrun_after", b.overrun_after);
        const m = await createMaintenance(
          ctx.db,
          ws,
          {
            id: b.id,
            title: b.title,
            titleTranslations: pickTranslations(b.translations, "title"),
            body: b.body,
            bodyTranslations: pickTranslations(b.translations, "body"),
            components: b.components,
            startsAt: b.starts_at,
            endsAt: b.ends_at,
            autoStart: b.auto_start,
            autoEnd: b.auto_end,
            overrunAfterMs,
          },
          ctx.now(),
        );
        ctx.changed(ws);
        return reply.code(201).send(json(m));
      },
    );
    app.get(
      "/maintenances",
      {
        schema: {
          operationId: "listMaintenances",
          tags,
          summary: "Windows to come, under way, or ended in the last 14 days",
          response: { 200: z.object({ maintenances: z.array(MaintenanceOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        maintenances: (
          await listMaintenances(
            ctx.db,
            principal(req).workspaceId,
            new Date(ctx.now().getTime() - 14 * 86_400_000),
          )
        ).map(json),
      }),
    );
    app.get(
      "/maintenances/:id",
      {
        schema: {
          operationId: "getMaintenance",
          summary: "One maintenance window",
          tags,
          params: z.object({ id: Id }),
          response: { 200: MaintenanceOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => json(await getMaintenance(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.post(
      "/maintenance-series",
      {
        schema: {
          operationId: "createMaintenanceSeries",
          tags,
          summary:
            "Schedule recurring maintenance (RRULE in a time zone); occurrences behave like one-off windows",
          body: CreateSeries,
          response: { 201: SeriesOut },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const b = req.body;
        const series = await createSeries(
          ctx.database,
          ws,
          {
            id: b.id,
            title: b.title,
            titleTranslations: pickTranslations(b.translations, "title"),
            body: b.body,
            bodyTranslations: pickTranslations(b.translations, "body"),
            components: b.components,
            firstStart: b.first_start,
            timeZone: b.time_zone,
            rrule: b.rrule,
            durationMs: durationField("duration", b.duration),
            autoStart: b.auto_start,
            autoEnd: b.auto_end,
            overrunAfterMs: durationField("overrun_after", b.overrun_after),
          },
          ctx.now(),
        );
        ctx.changed(ws);
        return reply.code(201).send(seriesJson(series));
      },
    );
    app.get(
      "/maintenance-series",
      {
        schema: {
          operationId: "listMaintenanceSeries",
          summary: "List recurring maintenance series",
          tags,
          response: { 200: z.object({ series: z.array(SeriesOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({ series: (await listSeries(ctx.db, principal(req).workspaceId)).map(seriesJson) }),
    );
    app.post(
      "/maintenance-series/:id/cancel",
      {
        schema: {
          operationId: "cancelMaintenanceSeries",
          tags,
          summary: "Stop a series; its windows still to come are cancelled",
          params: z.object({ id: Id }),
          response: { 200: SeriesOut },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const series = await cancelSeries(ctx.database, ws, req.params.id, ctx.now());
        ctx.changed(ws);
        return seriesJson(series);
      },
    );
    for (const how of ["complete", "cancel"] as const) {
      app.post(
        `/maintenances/:id/${how}`,
        {
          schema: {
            tags,
            operationId: how === "complete" ? "completeMaintenance" : "cancelMaintenance",
            summary: how === "complete" ? "The work is done" : "Call off a window that has not started",
            params: z.object({ id: Id }),
            response: { 200: MaintenanceOut },
          },
          preHandler: ctx.auth("incidents:write"),
        },
        async (req) => {
          const ws = principal(req).workspaceId;
          const m = await closeMaintenance(ctx.db, ws, req.params.id, how, ctx.now());
          ctx.changed(ws);
          return json(m);
        },
      );
    }
  };
