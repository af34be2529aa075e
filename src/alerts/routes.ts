/**
 * Alert integrations over HTTP: configured like monitors under /api/v1/alert-integrations, and
 * the webhook each tool posts to, /hooks/alerts/{id}, authenticated by the integration's bearer
 * token (or, for PagerDuty with a signing secret, by X-PagerDuty-Signature).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { ALERT_TOOLS, DATADOG_PAYLOAD, readAlerts } from "../core/alerts.ts";
import { AmendsError, invalidField } from "../core/errors.ts";
import { ON_FAILURE } from "../core/monitors.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { installJsonParser } from "../http/input-guard.ts";
import { ComponentStatusSchema, Id, InstantOut, iso } from "../http/zod.ts";
import type { AutomationOptions } from "../monitors/automation.ts";
import { receiveAlerts } from "./receive.ts";
import {
  type AlertIntegration,
  createIntegration,
  deleteIntegration,
  findForDelivery,
  getIntegration,
  listIntegrations,
  receivedAlerts,
  rotateToken,
  tokenHash,
  updateIntegration,
} from "./store.ts";

const Label = z.string().min(1).max(100);
const Rule = z.strictObject({
  match: z
    .record(Label, z.union([z.string().max(500), z.array(z.string().max(500)).min(1).max(50)]))
    .describe("every label named must have this value, or one of these values"),
  components: z
    .array(
      z
        .string()
        .min(1)
        .max(200)
        .regex(/^[A-Za-z0-9{][A-Za-z0-9._:{}-]*$/, "a component id, with {label} placeholders"),
    )
    .max(100)
    .describe("component ids; {label} is replaced by the alert's label, e.g. end-rental-{city}"),
  status: ComponentStatusSchema.optional().describe("the components' status while the alert fires"),
});

const Fields = {
  name: z.string().trim().min(1, "must not be empty").max(200, "at most 200 characters"),
  rules: z
    .array(Rule)
    .max(200)
    .describe("the first rule that matches an alert's labels maps it; no rules: every alert counts"),
  componentStatus: ComponentStatusSchema,
  onFailure: z.enum(ON_FAILURE),
  protocol: Id.nullable(),
  signingSecret: z
    .string()
    .min(8)
    .max(500)
    .nullable()
    .describe("PagerDuty: the subscription's signing secret, checked against X-PagerDuty-Signature"),
  paused: z.boolean(),
};
const IntegrationCreate = z.strictObject({
  name: Fields.name,
  tool: z.enum(ALERT_TOOLS),
  rules: Fields.rules.default([]),
  componentStatus: Fields.componentStatus.default("major_outage"),
  onFailure: Fields.onFailure.default("open_incident"),
  protocol: Fields.protocol.optional(),
  signingSecret: Fields.signingSecret.optional(),
  paused: z.boolean().default(false),
});
const IntegrationPatch = z.strictObject(
  Object.fromEntries(Object.entries(Fields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof Fields]: z.ZodOptional<(typeof Fields)[K]>;
  },
);

const IntegrationOut = z.object({
  id: z.string(),
  name: z.string(),
  tool: z.enum(ALERT_TOOLS),
  webhookUrl: z.string().describe("where the tool posts, with Authorization: Bearer <token>"),
  rules: z.array(z.unknown()),
  componentStatus: ComponentStatusSchema,
  onFailure: z.enum(ON_FAILURE),
  protocol: z.string().nullable(),
  hasSigningSecret: z.boolean(),
  state: z.enum(["up", "down", "pending", "paused"]),
  stateChangedAt: InstantOut.nullable(),
  incidentId: z.string().nullable().describe("the incident its alerts opened and will resolve"),
  failingComponents: z.array(z.object({ componentId: z.string(), status: ComponentStatusSchema })),
  createdAt: InstantOut,
  updatedAt: InstantOut,
});
const WithToken = IntegrationOut.extend({
  token: z.string().describe("shown once: the bearer token the tool must send"),
  datadogPayload: z
    .record(z.string(), z.string())
    .optional()
    .describe("Datadog: the custom payload to paste"),
});

const json = (i: AlertIntegration): z.infer<typeof IntegrationOut> => ({
  id: i.id,
  name: i.name,
  tool: i.tool,
  webhookUrl: `/hooks/alerts/${i.id}`,
  rules: i.rules,
  componentStatus: i.componentStatus,
  onFailure: i.onFailure,
  protocol: i.protocol,
  hasSigningSecret: i.hasSigningSecret,
  state: i.state,
  stateChangedAt: iso(i.stateChangedAt),
  incidentId: i.incidentId,
  failingComponents: i.failingComponents,
  createdAt: iso(i.createdAt)!,
  updatedAt: iso(i.updatedAt)!,
});

const Params = z.object({ id: Id });

function checkSecret(tool: string, secret: string | null | undefined) {
  if (secret && tool !== "pagerduty")
    throw invalidField("signingSecret", "only PagerDuty signs its webhooks; the others use the bearer token");
}

export const alertIntegrationRoutes =
  (ctx: ApiContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["alerts"];
    app.get(
      "/alert-integrations",
      {
        schema: {
          operationId: "listAlertIntegrations",
          tags,
          summary: "List alert integrations",
          response: { 200: z.object({ items: z.array(IntegrationOut) }) },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => ({ items: (await listIntegrations(ctx.db, principal(req).workspaceId)).map(json) }),
    );
    app.post(
      "/alert-integrations",
      {
        schema: {
          operationId: "createAlertIntegration",
          tags,
          summary: "Create an alert integration; the answer holds its token, once",
          body: IntegrationCreate,
          response: { 201: WithToken },
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req, reply) => {
        checkSecret(req.body.tool, req.body.signingSecret);
        const { integration, token } = await createIntegration(
          ctx.db,
          principal(req).workspaceId,
          req.body,
          ctx.now(),
        );
        return reply.code(201).send({
          ...json(integration),
          token,
          ...(integration.tool === "datadog" && { datadogPayload: DATADOG_PAYLOAD }),
        });
      },
    );
    app.get(
      "/alert-integrations/:id",
      {
        schema: {
          operationId: "getAlertIntegration",
          tags,
          summary: "One alert integration with its state",
          params: Params,
          response: { 200: IntegrationOut },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => json(await getIntegration(ctx.db, principal(req).workspaceId, req.params.id)),
    );
    app.patch(
      "/alert-integrations/:id",
      {
        schema: {
          operationId: "updateAlertIntegration",
          tags,
          summary: "Change an alert integration; paused: true ignores its alerts",
          params: Params,
          body: IntegrationPatch,
          response: { 200: IntegrationOut },
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const before = await getIntegration(ctx.db, ws, req.params.id);
        checkSecret(before.tool, req.body.signingSecret);
        return json(await updateIntegration(ctx.db, ws, req.params.id, req.body, ctx.now()));
      },
    );
    app.delete(
      "/alert-integrations/:id",
      {
        schema: {
          operationId: "deleteAlertIntegration",
          tags,
          summary: "Delete an alert integration and what it received",
          params: Params,
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req, reply) => {
        await deleteIntegration(ctx.db, principal(req).workspaceId, req.params.id);
        return reply.code(204).send();
      },
    );
    app.post(
      "/alert-integrations/:id/token",
      {
        schema: {
          operationId: "rotateAlertIntegrationToken",
          tags,
          summary: "A new bearer token; the old one stops working at once",
          params: Params,
          response: { 200: z.object({ token: z.string() }) },
        },
        preHandler: ctx.auth("monitors:write"),
      },
      async (req) => ({
        token: await rotateToken(ctx.db, principal(req).workspaceId, req.params.id, ctx.now()),
      }),
    );
    app.get(
      "/alert-integrations/:id/alerts",
      {
        schema: {
          operationId: "listReceivedAlerts",
          tags,
          summary: "The integration's alerts (firing first) and its latest deliveries",
          params: Params,
          querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1_000).default(100) }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        await getIntegration(ctx.db, ws, req.params.id);
        const { current, events } = await receivedAlerts(ctx.db, ws, req.params.id, req.query.limit);
        return {
          alerts: current.map((a) => ({
            fingerprint: a.fingerprint,
            status: a.status,
            summary: a.summary,
            labels: a.labels,
            components: a.components,
            firstFiredAt: iso(a.firstFiredAt),
            updatedAt: iso(a.updatedAt),
          })),
          events: events.map((e) => ({
            fingerprint: e.fingerprint,
            status: e.status,
            summary: e.summary,
            labels: e.labels,
            receivedAt: iso(e.receivedAt),
          })),
        };
      },
    );
  };

declare module "fastify" {
  interface FastifyRequest {
    rawJson?: string;
  }
}

const bearer = (header: string | undefined) => /^Bearer\s+(\S+)$/i.exec(header ?? "")?.[1];
const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** PagerDuty signs the exact body: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256>[,v1=…]` (one per secret). */
export function pagerDutySignatureValid(secret: string, body: string, header: string | undefined): boolean {
  const expected = `v1=${createHmac("sha256", secret).update(body).digest("hex")}`;
  return (header ?? "").split(",").some((s) => sameText(s.trim(), expected));
}

/** The webhook the tools post to. Nothing the sender sent is echoed back beyond counts. */
export const alertHookRoutes =
  (ctx: ApiContext, options: Omit<AutomationOptions, "now">): FastifyPluginAsyncZod =>
  async (app) => {
    const auto: AutomationOptions = { ...options, now: ctx.now };
    installJsonParser(app, (req, text) => {
      req.rawJson = text;
    });
    const unauthenticated = () =>
      new AmendsError("UNAUTHENTICATED", "send the integration's token as Authorization: Bearer <token>");
    app.post(
      "/hooks/alerts/:id",
      {
        schema: { hide: true, params: z.object({ id: z.string().max(100) }), body: z.unknown() },
        bodyLimit: 1_048_576,
      },
      async (req, reply) => {
        const found = await findForDelivery(ctx.db, req.params.id);
        // An unknown id and a wrong token answer alike: the URL alone reveals nothing.
        if (!found) throw unauthenticated();
        const token = bearer(req.headers.authorization);
        const signed =
          found.integration.tool === "pagerduty" &&
          found.signingSecret !== null &&
          req.rawJson !== undefined &&
          pagerDutySignatureValid(
            found.signingSecret,
            req.rawJson,
            req.headers["x-pagerduty-signature"] as string | undefined,
          );
        if (!signed && !(token && sameText(tokenHash(token), found.tokenHash))) throw unauthenticated();
        if (req.body === undefined || req.body === null || typeof req.body !== "object")
          throw invalidField("body", "expected the tool's JSON webhook body");
        const { integration } = found;
        const delivered = readAlerts(integration.tool, req.body);
        const result = await receiveAlerts(
          ctx.database,
          integration.workspaceId,
          integration.id,
          delivered,
          auto,
        );
        if (result.state !== integration.state || result.received > result.duplicates)
          ctx.changed(integration.workspaceId);
        return reply.code(202).send(result);
      },
    );
  };
