/**
 * The HTTP server: the token-guarded JSON API under /api/v1 (with its OpenAPI document),
 * the public status page and its Statuspage-compatible JSON, /healthz and /metrics.
 */

import { createServer } from "node:http";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { DatabaseLimiter, databaseRateLimitStore } from "../access/rate-limit-store.ts";
import { type AccessOptions, accessRoutes } from "../access/routes.ts";
import { alertHookRoutes, alertIntegrationRoutes } from "../alerts/routes.ts";
import { installAuditHook } from "../audit/hook.ts";
import { auditRoutes } from "../audit/routes.ts";
import { stripeClient } from "../billing/stripe-export.ts";
import { importRoutes } from "../company-data/routes.ts";
import { compensationAlias, compensationRoutes } from "../compensation/routes.ts";
import { componentRoutes } from "../components/routes.ts";
import { consoleRoutes } from "../console/routes.ts";
import { AmendsError } from "../core/errors.ts";
import { type DampingOptions, DEFAULT_DAMPING } from "../core/monitors.ts";
import { incidentRoutes } from "../incidents/routes.ts";
import { maintenanceRoutes } from "../maintenance/routes.ts";
import { heartbeatRoutes, monitorRoutes } from "../monitors/routes.ts";
import type { ChannelRegistry } from "../notifications/channels/index.ts";
import { socialChannels } from "../notifications/notifier.ts";
import { receiptsFromEnv } from "../notifications/receipts.ts";
import {
  notificationPages,
  notificationRoutes,
  type ReceiptSettings,
  subscriptionLimits,
} from "../notifications/routes.ts";
import { postmortemRoutes } from "../postmortems/routes.ts";
import { protocolRoutes } from "../protocols/routes.ts";
import { reportLimits, reportPages, reportRoutes } from "../reports/routes.ts";
import { usageEventRoutes } from "../signals/routes.ts";
import { brandRoutes } from "../status-page/brand-routes.ts";
import { CHANGES_CHANNEL, PageChanges } from "../status-page/changes.ts";
import { FastLane } from "../status-page/fast-lane.ts";
import { statusPagesRoutes } from "../status-page/pages-routes.ts";
import { renderErrorPage } from "../status-page/render-html.ts";
import { PublicPages, statusPageRoutes } from "../status-page/routes.ts";
import { S3Publisher, type S3Target, s3TargetFromEnv } from "../status-page/s3-publish.ts";
import type { Database } from "../storage/database.ts";
import { tokenRoutes } from "../tokens/routes.ts";
import { createAuthenticator } from "./auth.ts";
import type { ApiContext } from "./context.ts";
import { type GuardedRoute, installGuards } from "./guard.ts";
import { installInputGuard } from "./input-guard.ts";
import { registerMetrics } from "./metrics.ts";
import { httpSurfaceOptions, openApiOptions } from "./openapi.ts";
import { RETRY_AFTER_SECONDS, sendProblem, toAmendsError } from "./problem.ts";
import { installSecurityHeaders } from "./security-headers.ts";

export interface ServerOptions {
  database: Database;
  /** Lets the local CLI act with full rights; see http/auth.ts. */
  localSecret?: string;
  now?: () => Date;
  logger?: boolean | { level: string };
  /** Called after every write that changes a workspace's public page. */
  onChange?: (workspaceId: string) => void;
  /** Senders per channel, for confirmation messages (the notifier sends everything else). */
  channels?: ChannelRegistry;
  /** Provider callbacks; TWILIO_AUTH_TOKEN and TWILIO_STATUS_CALLBACK from the environment when absent. */
  receipts?: ReceiptSettings;
  /** Publish the static page to this S3-compatible bucket on every change; AMENDS_S3_URL etc. when absent, false for never. */
  s3?: S3Target | false;
  /** Stripe credentials; STRIPE_API_KEY and STRIPE_API_BASE from the environment when absent. */
  stripe?: { apiKey: string; base?: string };
  /** Login rate limit; AMENDS_LOGIN_MAX per AMENDS_LOGIN_WINDOW_SECONDS when absent. */
  access?: AccessOptions;
  /** Where the built console lives (console/dist when absent). */
  consoleDir?: string;
  /** How monitors confirm recoveries and damp flapping (core/monitors.ts DEFAULT_DAMPING when absent). */
  monitorDamping?: DampingOptions;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Every route with the scope it needs (null: public), as registered: what the security tests walk. */
    amendsRoutes: GuardedRoute[];
  }
}

const VERSION = "0.1.0";
/** Large enough that an oversized field is reported by name, not as a bare 413. */
const BODY_LIMIT = 8 * 1024 * 1024;

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { database } = options;
  const now = options.now ?? (() => new Date());
  const lane = new FastLane();
  // The API answers in problem+json; the public pages answer people, in HTML.
  const isPage = (url: string) => !/^\/(api|healthz|metrics|hooks)(\/|$|\?)/.test(url);
  const onError = (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (!isPage(request.url)) return sendProblem(reply, request, error);
    const known = toAmendsError(error);
    if (!known) request.log.error({ err: error }, "unhandled error");
    const status = known?.status ?? 500;
    if (status === 503) reply.header("retry-after", String(RETRY_AFTER_SECONDS));
    return reply
      .code(status)
      .type("text/html; charset=utf-8")
      .send(renderErrorPage(status, known?.message ?? "Something went wrong on our side."));
  };
  const app = Fastify({
    // Repeated public documents are answered before Fastify sees them (status-page/fast-lane.ts).
    serverFactory: (handler) => createServer((req, res) => lane.serve(req, res) || handler(req, res)),
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    trustProxy: process.env.AMENDS_TRUST_PROXY === "1",
    routerOptions: { ignoreTrailingSlash: true },
    rewriteUrl: (req) => compensationAlias(req.url ?? "/"),
    // A path that is not valid percent-encoding, or a segment too long, answers like any bad input.
    frameworkErrors: onError,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // `Status.Example.com.` (fully qualified, any case) is the same host: matched to its page,
  // and only ever copied into links as `status.example.com`.
  app.addHook("onRequest", async (req) => {
    for (const name of ["host", "x-forwarded-host"] as const) {
      const value = req.raw.headers[name];
      if (typeof value === "string")
        req.raw.headers[name] = value.replace(/\.+(?=(:\d+)?$)/, "").toLowerCase();
    }
  });
  app.setErrorHandler(onError);
  app.setNotFoundHandler((request, reply) => {
    const error = new AmendsError("NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`);
    if (!isPage(request.url)) return sendProblem(reply, request, error);
    return reply
      .code(404)
      .type("text/html; charset=utf-8")
      .send(renderErrorPage(404, "There is no page here."));
  });

  await app.register(cookie);
  // Only the routes that name a limit (sign-in, setup, invitations) are limited; counted in
  // the database, so that every process behind it counts the same attempts.
  await app.register(rateLimit, { global: false, store: databaseRateLimitStore(database, now) });
  app.decorate("amendsRoutes", installGuards(app));
  installSecurityHeaders(app);
  installInputGuard(app);
  installAuditHook(app, database.db, now);
  // Last of the onSend hooks: the lane keeps the bytes and headers exactly as they leave.
  app.addHook("onSend", async (req, reply, payload) => {
    if (reply.statusCode === 200 && Buffer.isBuffer(payload))
      lane.remember(req.raw, reply.getHeaders(), payload);
    return payload;
  });

  await app.register(swagger, openApiOptions(VERSION, process.env.AMENDS_PUBLIC_URL));
  await app.register(swagger, httpSurfaceOptions(VERSION));

  // While this process cannot hear other processes' changes, its snapshots age within a second.
  const changesHeard = () => database.listeners().every((l) => l.channel !== CHANGES_CHANNEL || l.connected);
  const pages = new PublicPages(database.db, now, lane, () => (changesHeard() ? 15_000 : 1_000));
  // The CDN copy: the page's documents, fetched in-process as any client would, uploaded when changed.
  const s3 = options.s3 === undefined ? s3TargetFromEnv(process.env) : options.s3 || undefined;
  const publisher = s3
    ? new S3Publisher(
        s3,
        async (path) => {
          const res = await app.inject({ url: path, headers: { "accept-encoding": "identity" } });
          return {
            status: res.statusCode,
            body: res.rawPayload,
            type: String(res.headers["content-type"] ?? ""),
          };
        },
        (err) => app.log.error({ err }, "publishing the static page to S3 failed"),
      )
    : undefined;
  // What a change, made here or heard of, drops: the snapshots, and the CDN copy is republished.
  const apply = (ws?: string) => {
    pages.invalidate(ws);
    publisher?.schedule();
  };
  const changes = new PageChanges(database, apply, changesHeard);
  const stopListening = await database.listen(CHANGES_CHANNEL, (payload) => changes.heard(payload));
  app.addHook("onClose", async () => {
    await stopListening();
    await publisher?.stop();
  });
  app.addHook("onReady", async () => publisher?.schedule());
  const announcing = new Set<Promise<void>>();
  const ctx: ApiContext = {
    db: database.db,
    database,
    now,
    auth: createAuthenticator(database.db, options.localSecret, now),
    changed: (ws) => {
      apply(ws);
      // Other processes serving the page learn of the change from the database.
      const sent: Promise<void> = changes
        .announce(ws)
        .catch(() => {})
        .finally(() => announcing.delete(sent));
      announcing.add(sent);
      options.onChange?.(ws);
    },
  };
  // A write answers only once every server has dropped what its change made stale: a client
  // that has the answer may ask any other server next (see status-page/changes.ts).
  app.addHook("onSend", async (req, _reply, payload) => {
    if (announcing.size && req.method !== "GET" && req.method !== "HEAD") await Promise.all(announcing);
    return payload;
  });
  const stripe =
    options.stripe ??
    (process.env.STRIPE_API_KEY
      ? { apiKey: process.env.STRIPE_API_KEY, base: process.env.STRIPE_API_BASE }
      : undefined);
  if (stripe) ctx.stripe = stripeClient(stripe.apiKey, stripe.base);
  const limits = subscriptionLimits(database);
  const monitorOptions = {
    damping: options.monitorDamping ?? DEFAULT_DAMPING,
    social: socialChannels(options.channels ?? {}),
  };
  const reports = reportLimits(database);
  const loginAttempts = new DatabaseLimiter(database, "page-login:ip", 10, 10 * 60_000);
  await app.register(
    async (api) => {
      api.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
      await api.register(componentRoutes(ctx));
      await api.register(incidentRoutes(ctx));
      await api.register(tokenRoutes(ctx));
      await api.register(accessRoutes(ctx, options.access));
      await api.register(auditRoutes(ctx));
      await api.register(importRoutes(ctx));
      await api.register(compensationRoutes(ctx));
      await api.register(maintenanceRoutes(ctx));
      await api.register(monitorRoutes(ctx, monitorOptions));
      await api.register(alertIntegrationRoutes(ctx));
      await api.register(usageEventRoutes(ctx));
      await api.register(protocolRoutes(ctx, monitorOptions.social));
      await api.register(reportRoutes(ctx, reports));
      await api.register(postmortemRoutes(ctx));
      await api.register(statusPagesRoutes(ctx));
      await api.register(brandRoutes(ctx));
      await api.register(
        notificationRoutes(ctx, options.channels ?? {}, limits, options.receipts ?? receiptsFromEnv()),
      );
    },
    { prefix: "/api/v1" },
  );
  await app.register(statusPageRoutes(database.db, now, pages, loginAttempts, options.channels ?? {}));
  await app.register(consoleRoutes(options.consoleDir));
  await app.register(heartbeatRoutes(ctx, monitorOptions));
  await app.register(alertHookRoutes(ctx, monitorOptions));
  // The workspace's other pages by path; by host name they answer at the routes above.
  await app.register(statusPageRoutes(database.db, now, pages, loginAttempts, options.channels ?? {}), {
    prefix: "/p/:page",
  });
  await app.register(async (pagesApp) => notificationPages(pagesApp, ctx, options.channels ?? {}, limits));
  await app.register(async (pagesApp) => reportPages(pagesApp, ctx, reports));

  const metrics = registerMetrics(app, database, lane);
  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) =>
    reply.type(metrics.contentType).send(await metrics.metrics()),
  );
  app.get("/healthz", { schema: { hide: true } }, async (_req, reply) => {
    // Each LISTEN: "connected", or since when it is down (changes from other processes then
    // reach this one only as its snapshots age, within a second or two).
    const listen = Object.fromEntries(
      database
        .listeners()
        .map((l) => [l.channel, l.connected ? "connected" : `down since ${l.downSince?.toISOString()}`]),
    );
    const listening = Object.values(listen).every((v) => v === "connected");
    try {
      await database.query("select 1");
      return { status: listening ? "ok" : "degraded", database: database.kind, version: VERSION, listen };
    } catch {
      return reply
        .code(503)
        .send({ status: "unavailable", database: database.kind, version: VERSION, listen });
    }
  });
  return app;
}
