import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { parseDuration } from "../core/compensation/time.ts";
import { invalidField } from "../core/errors.ts";
import { MAINTENANCE_STATUSES, type Maintenance } from "../core/maintenance.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { Body, Id, Instant, InstantOut, iso, pickTranslations, Title, Translations } from "../http/zod.ts";
import { closeMaintenance, createMaintenance, getMaintenance, listMaintenances } from "./store.ts";

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

export const maintenanceRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["maintenance"];
    app.post(
      "/maintenances",
      {
        schema: {
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
        let overrunAfterMs: number;
        try {
          overrunAfterMs = parseDuration(b.overrun_after);
        } catch (err) {
          throw invalidField("overrun_after", (err as Error).message);
        }
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
        schema: { tags, params: z.object({ id: Id }), response: { 200: MaintenanceOut } },
        preHandler: ctx.auth("read"),
      },
      async (req) => json(await getMaintenance(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    for (const how of ["complete", "cancel"] as const) {
      app.post(
        `/maintenances/:id/${how}`,
        {
          schema: {
            tags,
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
