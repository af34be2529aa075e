/**
 * Emergency protocols over HTTP: templates prepared in calm times, and one call to start one
 * (`{"dryRun": true}` shows who it would reach and the SMS cost without sending anything).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { requireComponents } from "../components/store.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import {
  Body,
  ComponentStatusSchema,
  Id,
  ImpactSchema,
  Instant,
  InstantOut,
  iso,
  Title,
  Translations,
} from "../http/zod.ts";
import { incidentJson } from "../incidents/routes.ts";
import { OUTBOX_CHANNEL } from "../notifications/notifier.ts";
import { WaitingOut, waitingOf } from "../notifications/waiting.ts";
import {
  getProtocol,
  listProtocols,
  type Protocol,
  type ProtocolTemplate,
  putProtocol,
  startProtocol,
} from "./store.ts";

const LocaleKey = z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, "a locale such as it or pt-BR");

const Template = z.strictObject({
  title: Title,
  body: Body,
  translations: Translations.optional(),
  components: z
    .array(z.strictObject({ id: Id, status: ComponentStatusSchema }))
    .max(1_000)
    .default([]),
  impact: ImpactSchema.optional(),
  channels: z
    .array(z.enum(["subscribers", "customers", "team", "social"]))
    .optional()
    .describe("who is told (all by default); within each, the workspace's notification settings decide"),
  social: z.string().trim().min(1).max(500).optional().describe("the public social post"),
  support: z
    .strictObject({
      text: z.string().trim().min(1).max(2_000),
      translations: z.record(LocaleKey, z.string().trim().min(1).max(2_000)).optional(),
      channel: z.strictObject({
        kind: z.enum(["callback", "chat", "phone", "email", "url"]),
        url: z
          .string()
          .trim()
          .min(1)
          .max(2_000)
          .refine(
            (u) => /^(https?:\/\/|mailto:|tel:)/i.test(u) && URL.canParse(u),
            "an https://, mailto: or tel: address",
          )
          .describe("a callback form, a chat link, mailto:…, tel:… (each becomes a link)"),
        label: z.string().trim().max(100).optional(),
      }),
    })
    .optional()
    .describe("what support says, and the extra channel it opens"),
  nextUpdateMinutes: z.number().int().min(1).max(1_440).optional(),
  etaMinutes: z
    .number()
    .int()
    .min(1)
    .max(43_200)
    .optional()
    .describe("the fix is expected this many minutes after the start (a start may give its own eta)"),
});

const protocolJson = (p: Protocol) => ({
  name: p.name,
  ...p.template,
  incidentId: p.incidentId,
  createdAt: iso(p.createdAt),
  updatedAt: iso(p.updatedAt),
});

const Params = z.object({ name: Id });
const Started = z.object({
  incident: z.unknown().describe("the incident opened (or already open); null on a dry run"),
  estimate: z.unknown().describe("recipients per channel and the SMS cost, worked out first"),
  alreadyOpen: z.boolean(),
  dryRun: z.boolean(),
  startedAt: InstantOut,
  notification: WaitingOut.nullable().describe(
    "Set when the incident's SMS wait for cost confirmation (the free channels go at once)",
  ),
});

export const protocolRoutes =
  (ctx: ApiContext, social: string[]): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["protocols"];
    app.get(
      "/protocols",
      {
        schema: { operationId: "listProtocols", tags, summary: "Emergency protocols" },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({
        items: (await listProtocols(ctx.db, principal(req).workspaceId)).map(protocolJson),
      }),
    );
    app.get(
      "/protocols/:name",
      {
        schema: {
          operationId: "getProtocol",
          summary: "One emergency protocol's template",
          tags,
          params: Params,
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => protocolJson(await getProtocol(ctx.db, principal(req).workspaceId, req.params.name)),
    );
    app.put(
      "/protocols/:name",
      {
        schema: {
          operationId: "putProtocol",
          tags,
          summary: "Create or replace a protocol's template",
          params: Params,
          body: Template,
        },
        preHandler: ctx.auth("incidents:write"),
      },
      async (req, reply) => {
        const ws = principal(req).workspaceId;
        await requireComponents(
          ctx.db,
          ws,
          req.body.components.map((c) => c.id),
          (i) => `components.${i}.id`,
        );
        const { protocol, created } = await putProtocol(
          ctx.db,
          ws,
          req.params.name,
          req.body as ProtocolTemplate,
          ctx.now(),
        );
        return reply.code(created ? 201 : 200).send(protocolJson(protocol));
      },
    );
    app.post(
      "/protocols/:name/start",
      {
        schema: {
          operationId: "startProtocol",
          tags,
          summary:
            "Start a protocol: the incident, the page and every message at once (dryRun: only the estimate)",
          params: Params,
          body: z
            .strictObject({
              dryRun: z.boolean().default(false),
              eta: Instant.optional().describe(
                "when the fix is expected; overrides the template's etaMinutes",
              ),
            })
            .default({ dryRun: false }),
          response: { 200: Started, 201: Started },
        },
        preHandler: ctx.auth("protocols:start"),
      },
      async (req, reply) => {
        const p = principal(req);
        const now = ctx.now();
        const result = await startProtocol(ctx.database, p.workspaceId, req.params.name, {
          dryRun: req.body?.dryRun,
          eta: req.body?.eta,
          by: `token:${p.tokenId}`,
          now,
          social,
        });
        if (result.incident && !result.alreadyOpen) {
          ctx.changed(p.workspaceId);
          await ctx.database
            .query("select pg_notify($1, $2)", [OUTBOX_CHANNEL, p.workspaceId])
            .catch(() => {});
        }
        const [opened] =
          result.incident && !result.alreadyOpen
            ? await ctx.database.query<{ id: string }>(
                `select id from outbox_messages where workspace_id = $1 and incident_id = $2 and event = 'incident.opened'`,
                [p.workspaceId, result.incident.id],
              )
            : [];
        return reply.code(result.incident && !result.alreadyOpen ? 201 : 200).send({
          ...result,
          notification: opened ? waitingOf(opened.id, result.estimate) : null,
          incident: result.incident ? incidentJson(result.incident) : null,
          startedAt: now.toISOString(),
        });
      },
    );
  };
