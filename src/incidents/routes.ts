import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { listComponents } from "../components/store.ts";
import type { Incident } from "../core/incidents.ts";
import { regionNames } from "../core/wording.ts";
import { actorRef, type Principal, principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import {
  Body,
  ComponentStatusSchema,
  Id,
  ImpactSchema,
  IncidentStatusSchema,
  Instant,
  InstantOut,
  iso,
  pickTranslations,
  Title,
  Translations,
} from "../http/zod.ts";
import { inEveryLanguage } from "../notifications/templates.ts";
import { confirmationFor, WaitingOut } from "../notifications/waiting.ts";
import { affectedByCity } from "../postmortems/store.ts";
import { addIncidentUpdate, createIncident, editIncident, getIncident, listIncidents } from "./store.ts";

const UpdateOut = z.object({
  id: z.string(),
  status: IncidentStatusSchema,
  body: z.string(),
  body_translations: z.record(z.string(), z.string()),
  components: z.array(
    z.object({ id: z.string(), old_status: ComponentStatusSchema, new_status: ComponentStatusSchema }),
  ),
  eta: InstantOut.nullable(),
  next_update_by: InstantOut.nullable(),
  created_at: InstantOut,
  created_by: z.string().nullable(),
  team_note: z.string().nullable().describe("For the team only, never public: e.g. what a monitor saw"),
});

const IncidentOut = z.object({
  id: z.string(),
  title: z.string(),
  title_translations: z.record(z.string(), z.string()),
  impact: ImpactSchema,
  status: IncidentStatusSchema,
  started_at: InstantOut,
  created_at: InstantOut,
  updated_at: InstantOut,
  identified_at: InstantOut.nullable(),
  monitoring_at: InstantOut.nullable(),
  resolved_at: InstantOut.nullable(),
  eta: InstantOut.nullable().describe("When service is expected back"),
  next_update_by: InstantOut.nullable().describe("When the team promised to post again"),
  components: z.array(z.object({ id: z.string(), status: ComponentStatusSchema })),
  updates: z.array(UpdateOut).describe("Oldest first"),
});

/** An incident write's answer: the incident, and what of its message waits for a person, if anything. */
const IncidentWritten = IncidentOut.extend({
  notification: WaitingOut.nullable().describe(
    "Set when the update's SMS wait for cost confirmation (the free channels go at once)",
  ),
});

export const incidentJson = (i: Incident): z.infer<typeof IncidentOut> => ({
  id: i.id,
  title: i.title,
  title_translations: i.titleTranslations,
  impact: i.impact,
  status: i.status,
  started_at: iso(i.startedAt)!,
  created_at: iso(i.createdAt)!,
  updated_at: iso(i.updatedAt)!,
  identified_at: iso(i.identifiedAt),
  monitoring_at: iso(i.monitoringAt),
  resolved_at: iso(i.resolvedAt),
  eta: iso(i.eta),
  next_update_by: iso(i.nextUpdateBy),
  components: i.components.map((c) => ({ id: c.componentId, status: c.status })),
  updates: i.updates.map((u) => ({
    id: u.id,
    status: u.status,
    body: u.body,
    body_translations: u.bodyTranslations,
    components: u.components.map((c) => ({
      id: c.componentId,
      old_status: c.oldStatus,
      new_status: c.newStatus,
    })),
    eta: iso(u.eta),
    next_update_by: iso(u.nextUpdateBy),
    created_at: iso(u.createdAt)!,
    created_by: u.createdBy,
    team_note: u.teamNote ?? null,
  })),
});

const AffectedIn = z
  .array(z.strictObject({ id: Id, status: ComponentStatusSchema }))
  .max(1_000, "at most 1,000 components per update");
const toAffected = (list: z.infer<typeof AffectedIn> | undefined) =>
  list?.map((c) => ({ componentId: c.id, status: c.status }));

const Notify = z
  .boolean()
  .default(true)
  .describe("tell subscribers, affected customers and the team (false: only the page changes)");

const IncidentCreate = z.strictObject({
  notify: Notify,
  id: Id.optional().describe("Your own id, e.g. INC-2017-12-19; generated when absent"),
  title: Title,
  body: Body.describe("The first update's text"),
  impact: ImpactSchema.optional().describe("Derived from the components' statuses when absent"),
  status: IncidentStatusSchema.exclude(["resolved"]).optional(),
  components: AffectedIn.optional(),
  started_at: Instant.optional(),
  eta: Instant.nullable().optional(),
  next_update_by: Instant.nullable().optional(),
  translations: Translations.optional(),
});

const UpdateCreate = z.strictObject({
  notify: Notify,
  body: Body,
  status: IncidentStatusSchema.optional(),
  components: AffectedIn.optional().describe("Components not listed keep their status"),
  eta: Instant.nullable().optional().describe("Absent keeps the standing ETA; null clears it"),
  next_update_by: Instant.nullable().optional(),
  translations: Translations.optional(),
});

const Resolve = z.strictObject({
  notify: Notify,
  body: Body.optional().describe("the closing words; when absent, Amends's own, in every shipped language"),
  translations: Translations.optional(),
  resolved_at: Instant.optional().describe("when service was actually restored, if earlier than now"),
});
const Patch = z.strictObject({
  title: Title.optional(),
  impact: ImpactSchema.optional(),
  started_at: Instant.optional(),
});
const Params = z.object({ id: Id });
const ListQuery = z.strictObject({
  state: z.enum(["open", "resolved", "all"]).default("all"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const incidentRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["incidents"];
    const actor = (req: { principal?: Principal }) => actorRef(req.principal);
    /** The incident and, when its newest update's message waits for cost confirmation, why. */
    const written = async (incident: Incident, workspaceId: string) => {
      const last = incident.updates.at(-1);
      return {
        ...incidentJson(incident),
        notification: last
          ? await confirmationFor(ctx.database, workspaceId, `incident:${incident.id}:${last.id}`)
          : null,
      };
    };

    app.get(
      "/incidents",
      {
        schema: {
          operationId: "listIncidents",
          tags,
          summary: "List incidents, newest first",
          querystring: ListQuery,
          response: { 200: z.object({ incidents: z.array(IncidentOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        incidents: (await listIncidents(ctx.db, principal(req).workspaceId, req.query)).map(incidentJson),
      }),
    );
    app.get(
      "/incidents/:id",
      {
        schema: {
          operationId: "getIncident",
          summary: "One incident with its timeline",
          tags,
          params: Params,
          response: { 200: IncidentOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => incidentJson(await getIncident(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.get(
      "/incidents/:id/affected",
      {
        schema: {
          operationId: "listAffectedCustomers",
          tags,
          summary: "Customers the incident touches, per city or region, while it is open too",
          description:
            'A usage session on its components (or their subtrees) during the incident, a line in one of its compensation runs, or an "I am affected" report; the city is the session\'s region, else the customer\'s home region ("?" when neither is known). Counted up to now while the incident is open. For operators only: the public page does not show it.',
          params: Params,
          response: {
            200: z.object({
              incident_id: z.string(),
              open: z.boolean(),
              customers: z.number().int(),
              regions: z.array(
                z.object({
                  region: z.string(),
                  name: z.string().nullable().describe('the city as people read it; null for "?"'),
                  customers: z.number().int(),
                }),
              ),
            }),
          },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const incident = await getIncident(ctx.db, ws, req.params.id);
        const [cities, components] = await Promise.all([
          affectedByCity(ctx.database, ws, incident, ctx.now()),
          listComponents(ctx.db, ws),
        ]);
        const cityName = regionNames(components);
        return {
          incident_id: incident.id,
          open: incident.resolvedAt === null,
          customers: cities.reduce((n, c) => n + c.customers, 0),
          regions: cities.map((c) => ({
            region: c.city,
            name: c.city === "?" ? null : cityName(c.city),
            customers: c.customers,
          })),
        };
      },
    );
    app.post(
      "/incidents",
      {
        schema: {
          operationId: "createIncident",
          tags,
          summary: "Open an incident with its first update",
          body: IncidentCreate,
          response: { 201: IncidentWritten },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const b = req.body;
        const incident = await createIncident(
          ctx.db,
          ws,
          {
            id: b.id,
            title: b.title,
            titleTranslations: pickTranslations(b.translations, "title"),
            impact: b.impact,
            startedAt: b.started_at,
            update: {
              status: b.status,
              body: b.body,
              bodyTranslations: pickTranslations(b.translations, "body"),
              components: toAffected(b.components),
              eta: b.eta,
              nextUpdateBy: b.next_update_by,
              createdBy: actor(req),
            },
          },
          ctx.now(),
          b.notify,
        );
        ctx.changed(ws);
        return reply
          .code(201)
          .header("location", `/api/v1/incidents/${incident.id}`)
          .send(await written(incident, ws));
      },
    );
    app.patch(
      "/incidents/:id",
      {
        schema: {
          operationId: "updateIncident",
          tags,
          summary: "Correct title, impact or start time",
          params: Params,
          body: Patch,
          response: { 200: IncidentOut },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const { title, impact, started_at } = req.body;
        const incident = await editIncident(
          ctx.db,
          ws,
          req.params.id,
          { title, impact, startedAt: started_at },
          ctx.now(),
        );
        ctx.changed(ws);
        return incidentJson(incident);
      },
    );
    app.post(
      "/incidents/:id/updates",
      {
        schema: {
          operationId: "createIncidentUpdate",
          tags,
          summary: "Post an update to the timeline",
          params: Params,
          body: UpdateCreate,
          response: { 201: IncidentWritten },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        const b = req.body;
        const incident = await addIncidentUpdate(
          ctx.db,
          ws,
          req.params.id,
          {
            status: b.status,
            body: b.body,
            bodyTranslations: pickTranslations(b.translations, "body"),
            components: toAffected(b.components),
            eta: b.eta,
            nextUpdateBy: b.next_update_by,
            createdBy: actor(req),
          },
          ctx.now(),
          b.notify,
        );
        ctx.changed(ws);
        return reply.code(201).send(await written(incident, ws));
      },
    );
    app.post(
      "/incidents/:id/resolve",
      {
        schema: {
          operationId: "resolveIncident",
          tags,
          summary: "Resolve: every affected component returns to operational",
          params: Params,
          body: Resolve.nullish(),
          response: { 200: IncidentWritten },
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const closing = req.body?.body
          ? { text: req.body.body, translations: pickTranslations(req.body.translations, "body") }
          : inEveryLanguage("auto.recoveredBodyAny", () => ({}));
        const incident = await addIncidentUpdate(
          ctx.db,
          ws,
          req.params.id,
          {
            status: "resolved",
            body: closing.text,
            bodyTranslations: closing.translations,
            resolvedAt: req.body?.resolved_at,
            createdBy: actor(req),
          },
          ctx.now(),
          req.body?.notify ?? true,
        );
        ctx.changed(ws);
        return written(incident, ws);
      },
    );
  };
