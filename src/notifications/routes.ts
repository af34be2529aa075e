/**
 * Notifications over HTTP: subscribing (public, rate-limited), confirming and unsubscribing from
 * signed links (public pages; RFC 8058 one-click POST), and for operators the settings, the
 * subscriber list, and each event's estimate, confirmation and progress.
 */
import { readFileSync } from "node:fs";
import { and, desc, eq, sql } from "drizzle-orm";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { DatabaseLimiter } from "../access/rate-limit-store.ts";
import { AmendsError, conflict, notFound } from "../core/errors.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { toAmendsError } from "../http/problem.ts";
import { Id, iso } from "../http/zod.ts";
import { isLocale, t } from "../i18n/catalog.ts";
import { html } from "../lib/html.ts";
import { newId } from "../lib/ids.ts";
import { renderSimplePage } from "../status-page/render-html.ts";
import type { Database, Db } from "../storage/database.ts";
import { outboxMessages, subscribers, workspaces } from "../storage/schema.ts";
import { defaultWorkspace } from "../workspaces/store.ts";
import type { ChannelRegistry } from "./channels/index.ts";
import { CHANNELS } from "./channels/types.ts";
import { type LinkPurpose, readLink, verifyLink } from "./links.ts";
import { estimateEvent, socialChannels } from "./notifier.ts";
import { recordReceipt, twilioReceipt, twilioSignatureValid } from "./receipts.ts";
import { loadNotificationSettings, NotificationSettings, saveNotificationSettings } from "./settings.ts";
import {
  confirmByCode,
  markConfirmed,
  normaliseAddress,
  SubscribeBody,
  subscribe,
  unsubscribe,
} from "./subscriptions.ts";
import { suppressAddress } from "./suppressions.ts";
import { waitingOf } from "./waiting.ts";

/** Form posts (HTML forms, Twilio callbacks, RFC 8058 one-click) arrive as fields. */
function acceptForms(app: FastifyInstance) {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
}

/**
 * Subscription limits: per client IP, and per phone-number prefix (SMS pumping). Counted in the
 * database, so every process behind it counts the same attempts.
 */
export const subscriptionLimits = (database: Database) => ({
  perIp: new DatabaseLimiter(database, "subscribe:ip", 20, 10 * 60_000),
  perPhonePrefix: new DatabaseLimiter(database, "subscribe:phone", 5, 60 * 60_000),
});
type Limits = ReturnType<typeof subscriptionLimits>;

export interface ReceiptSettings {
  /** Twilio status callbacks: the auth token that signs them and the URL Twilio was given */
  twilio?: { authToken: string; callbackUrl: string };
}

export const notificationRoutes =
  (
    ctx: ApiContext,
    channels: ChannelRegistry,
    { perIp, perPhonePrefix }: Limits,
    receipts: ReceiptSettings = {},
  ): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ["notifications"];
    acceptForms(app);

    app.post(
      "/hooks/twilio/status",
      {
        schema: {
          tags,
          summary: "Twilio's delivery receipts (StatusCallback), checked against X-Twilio-Signature",
          body: z.record(z.string(), z.string()),
          security: [],
        },
      },
      async (req, reply) => {
        const twilio = receipts.twilio;
        if (!twilio) throw notFound("receipt endpoint", "twilio");
        const signature = req.headers["x-twilio-signature"];
        if (!twilioSignatureValid(twilio.authToken, twilio.callbackUrl, req.body, String(signature ?? "")))
          throw new AmendsError("FORBIDDEN", "the X-Twilio-Signature does not match");
        const receipt = twilioReceipt(req.body);
        if (receipt && req.body.MessageSid)
          await recordReceipt(
            ctx.database,
            { provider: "twilio", messageId: req.body.MessageSid, ...receipt },
            ctx.now(),
          );
        return reply.code(204).send();
      },
    );
    app.post(
      "/hooks/bounces",
      {
        schema: {
          tags,
          summary:
            "Report a bounce or complaint (from your mail provider's webhook); hard ones suppress the address",
          body: z.strictObject({
            channel: z.enum(CHANNELS),
            address: z.string().min(1).max(2048),
            type: z.enum(["hard", "soft", "complaint"]),
            provider: z.string().max(100).optional(),
            provider_message_id: z.string().max(500).optional(),
          }),
        },
        preHandler: ctx.auth("notifications:write"),
      },
      async (req, reply) => {
        const b = req.body;
        const now = ctx.now();
        if (b.provider && b.provider_message_id)
          await recordReceipt(
            ctx.database,
            {
              provider: b.provider,
              messageId: b.provider_message_id,
              outcome: "bounced",
              error: `${b.type} bounce`,
            },
            now,
          );
        if (b.type !== "soft")
          await suppressAddress(
            ctx.database,
            principal(req).workspaceId,
            b.channel,
            b.address,
            `${b.type} bounce`,
            now,
          );
        return reply.code(204).send();
      },
    );
    const publicWorkspace = async () => {
      const ws = await defaultWorkspace(ctx.db);
      if (!ws) throw notFound("workspace", "default");
      return ws;
    };

    app.post(
      "/public/subscriptions",
      {
        schema: {
          tags,
          summary: "Subscribe to the status page (no token): a confirmation link or code is sent first",
          body: SubscribeBody,
          security: [],
        },
      },
      async (req, reply) => {
        const now = ctx.now();
        if (!(await perIp.take(req.ip, now)))
          throw new AmendsError("RATE_LIMITED", "too many subscriptions from this address; try later");
        const ws = await publicWorkspace();
        if (req.body.channel === "sms") {
          const { settings } = await loadNotificationSettings(ctx.db, ws.id);
          const { prefix } = normaliseAddress("sms", req.body.address, settings.sms.allowed_countries);
          if (!(await perPhonePrefix.take(prefix!, now)))
            throw new AmendsError(
              "RATE_LIMITED",
              "too many subscriptions for numbers like this one; try later",
            );
        }
        return reply.code(202).send(await subscribe(ctx.database, channels, ws.id, req.body, now));
      },
    );
    app.post(
      "/public/subscriptions/:id/confirm",
      {
        schema: {
          tags,
          summary: "Confirm an SMS subscription with the code it received",
          params: z.object({ id: Id }),
          body: z.strictObject({ code: z.string().regex(/^\d{6}$/, "six digits") }),
          security: [],
        },
      },
      async (req) => {
        if (!(await perIp.take(req.ip, ctx.now())))
          throw new AmendsError("RATE_LIMITED", "too many attempts");
        const ws = await publicWorkspace();
        await confirmByCode(ctx.database, ws.id, req.params.id, req.body.code, ctx.now());
        return { id: req.params.id, status: "confirmed" };
      },
    );

    app.get(
      "/notification-settings",
      { schema: { tags, response: { 200: NotificationSettings } }, preHandler: ctx.auth("read") },
      async (req) => (await loadNotificationSettings(ctx.db, principal(req).workspaceId)).settings,
    );
    app.put(
      "/notification-settings",
      {
        schema: { tags, body: NotificationSettings, response: { 200: NotificationSettings } },
        preHandler: ctx.auth("notifications:write"),
      },
      async (req) => {
        await saveNotificationSettings(ctx.db, principal(req).workspaceId, req.body);
        return req.body;
      },
    );
    app.get(
      "/subscribers",
      {
        schema: {
          tags,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const rows = await ctx.db
          .select()
          .from(subscribers)
          .where(eq(subscribers.workspaceId, principal(req).workspaceId))
          .orderBy(desc(subscribers.createdAt))
          .limit(req.query.limit);
        return {
          subscribers: rows.map((s) => ({
            id: s.id,
            channel: s.channel,
            address: s.address,
            locale: s.locale,
            components: s.components,
            regions: s.regions,
            quiet_hours: s.quietHours,
            digest_minutes: s.digestMinutes,
            sms_entitled: s.smsEntitled,
            confirmed_at: iso(s.confirmedAt),
            unsubscribed_at: iso(s.unsubscribedAt),
            created_at: iso(s.createdAt),
          })),
        };
      },
    );
    app.patch(
      "/subscribers/:id",
      {
        schema: {
          tags,
          summary: "Grant or withdraw the paid SMS entitlement",
          params: z.object({ id: Id }),
          body: z.strictObject({ sms_entitled: z.boolean() }),
        },
        preHandler: ctx.auth("notifications:write"),
      },
      async (req) => {
        const [row] = await ctx.db
          .update(subscribers)
          .set({ smsEntitled: req.body.sms_entitled })
          .where(
            and(eq(subscribers.workspaceId, principal(req).workspaceId), eq(subscribers.id, req.params.id)),
          )
          .returning({ id: subscribers.id });
        if (!row) throw notFound("subscriber", req.params.id);
        return { id: row.id, sms_entitled: req.body.sms_entitled };
      },
    );

    app.post(
      "/notification-estimate",
      {
        schema: {
          tags,
          summary: "Before opening an incident: who it would reach, per channel, and what its SMS would cost",
          body: z.strictObject({
            components: z.array(Id).max(500).default([]),
            title: z.string().max(500).default("Service disruption"),
            body: z.string().max(10_000).default(""),
            impact: z.enum(["none", "minor", "major", "critical"]).default("major"),
          }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) =>
        estimateEvent(
          ctx.database,
          {
            workspaceId: principal(req).workspaceId,
            id: "estimate",
            idempotencyKey: "estimate",
            event: "incident.opened",
            customerId: null,
            channel: null,
            address: null,
            locale: "en",
            // An incident id as long as the one it would get: the link in each SMS is priced too.
            payload: { ...req.body, incident_id: newId("inc"), started_at: ctx.now().toISOString() },
            createdAt: ctx.now(),
          },
          socialChannels(channels),
        ),
    );

    const eventJson = async (db: Db, ws: string, id: string) => {
      const [e] = await db
        .select()
        .from(outboxMessages)
        .where(and(eq(outboxMessages.workspaceId, ws), eq(outboxMessages.id, id)));
      if (!e) throw notFound("notification event", id);
      const progress = await ctx.database.query<{ channel: string; status: string; n: number }>(
        `select channel, status, count(*)::int as n from deliveries where workspace_id = $1 and event_id = $2
          group by 1, 2 order by 1, 2`,
        [ws, id],
      );
      return {
        id: e.id,
        event: e.event,
        key: e.idempotencyKey,
        incident_id: e.incidentId,
        status: e.status,
        estimate: e.estimate,
        /** what waits for a person's go-ahead, and why (only the SMS ever do) */
        waiting: e.status === "awaiting_confirmation" ? waitingOf(e.id, e.estimate as never) : null,
        confirmed_at: iso(e.confirmedAt),
        confirmed_by: e.confirmedBy,
        created_at: iso(e.createdAt),
        progress,
      };
    };
    app.get(
      "/notification-events",
      {
        schema: {
          tags,
          summary:
            "Recent events with their status (awaiting_confirmation when the estimate passed the threshold)",
          querystring: z.object({ status: z.string().max(40).optional() }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const rows = await ctx.db
          .select({ id: outboxMessages.id })
          .from(outboxMessages)
          .where(
            and(
              eq(outboxMessages.workspaceId, ws),
              sql`${outboxMessages.customerId} is null`,
              req.query.status ? eq(outboxMessages.status, req.query.status) : undefined,
            ),
          )
          .orderBy(desc(outboxMessages.createdAt))
          .limit(50);
        return { events: await Promise.all(rows.map((r) => eventJson(ctx.db, ws, r.id))) };
      },
    );
    app.get(
      "/notification-events/:id",
      {
        schema: {
          tags,
          summary: "An event's estimate and its fan-out progress",
          params: z.object({ id: Id }),
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => eventJson(ctx.db, principal(req).workspaceId, req.params.id),
    );
    app.post(
      "/notification-events/:id/confirm",
      {
        schema: {
          tags,
          summary: "Send an event whose estimate needed a person's go-ahead",
          params: z.object({ id: Id }),
        },
        preHandler: ctx.auth("notifications:write"),
      },
      async (req) => {
        const ws = principal(req).workspaceId;
        const [row] = await ctx.db
          .update(outboxMessages)
          .set({ status: "pending", confirmedAt: ctx.now(), confirmedBy: `token:${principal(req).tokenId}` })
          .where(
            and(
              eq(outboxMessages.workspaceId, ws),
              eq(outboxMessages.id, req.params.id),
              eq(outboxMessages.status, "awaiting_confirmation"),
            ),
          )
          .returning({ id: outboxMessages.id });
        if (!row) throw conflict("this event is not waiting for confirmation");
        return eventJson(ctx.db, ws, row.id);
      },
    );
  };

/** The public pages behind the links in messages. GET shows a button; only POST changes anything. */
export async function notificationPages(
  app: FastifyInstance,
  ctx: ApiContext,
  channels: ChannelRegistry,
  { perIp }: Limits,
) {
  acceptForms(app);
  // Web push from the status page: the script behind its button, the service worker (served
  // from the root so it may control the whole page), and the key browsers subscribe with.
  const pushKey = channels.web_push?.[0]?.applicationServerKey;
  for (const file of ["push.js", "sw.js"]) {
    const body = readFileSync(new URL(`./web-push-assets/${file}`, import.meta.url));
    app.get(`/${file}`, (_req, reply) =>
      reply.type("text/javascript; charset=utf-8").header("cache-control", "public, max-age=300").send(body),
    );
  }
  app.get("/push/key", (_req, reply) =>
    pushKey
      ? reply.header("cache-control", "public, max-age=300").send({ key: pushKey })
      : reply.code(404).send({ error: "web push is not configured" }),
  );
  const claimsOf = async (token: string | undefined, purpose: LinkPurpose) => {
    const unverified = token ? readLink(token) : undefined;
    if (!unverified) return undefined;
    const [ws] = await ctx.db
      .select({ secret: workspaces.linkSecret })
      .from(workspaces)
      .where(eq(workspaces.id, unverified.workspaceId));
    return ws ? verifyLink(ws.secret, token!, purpose) : undefined;
  };
  const page = (
    reply: FastifyReply,
    status: number,
    title: string,
    body: ReturnType<typeof html>,
    locale = "en",
  ) =>
    reply
      .code(status)
      .type("text/html; charset=utf-8")
      .send(renderSimplePage(title, body, isLocale(locale) ? locale : "en"));
  const invalid = (reply: FastifyReply) =>
    page(
      reply,
      400,
      "This link is not valid",
      html`<p>It may be incomplete. Copy the whole link from the message.</p>`,
    );
  type Q = { Querystring: { t?: string }; Body: { t?: string } | undefined };

  // The status page's form: e-mail only, no JavaScript; the same double opt-in as the API.
  app.post<{ Body: { address?: string; locale?: string } | undefined }>("/subscribe", async (req, reply) => {
    const locale = isLocale(req.body?.locale) ? req.body.locale : "en";
    if (!(await perIp.take(req.ip, ctx.now())))
      return page(
        reply,
        429,
        t(locale, "subscribeTitle"),
        html`<p>Too many requests. Try again later.</p>`,
        locale,
      );
    const ws = await defaultWorkspace(ctx.db);
    const body = SubscribeBody.safeParse({ channel: "email", address: req.body?.address ?? "", locale });
    if (!ws || !body.success)
      return page(
        reply,
        400,
        t(locale, "subscribeTitle"),
        html`<p>${t(locale, "subscribeEmail")}?</p>`,
        locale,
      );
    try {
      await subscribe(ctx.database, channels, ws.id, body.data, ctx.now());
    } catch (err) {
      const known = toAmendsError(err);
      if (!known || known.status >= 500) throw err;
      return page(reply, known.status, t(locale, "subscribeTitle"), html`<p>${known.message}</p>`, locale);
    }
    return page(
      reply,
      200,
      t(locale, "subscribeTitle"),
      html`<p>${t(locale, "checkInbox", { address: body.data.address })}</p>`,
      locale,
    );
  });

  app.get<Q>("/subscriptions/confirm", async (req, reply) => {
    if (!(await claimsOf(req.query.t, "confirm"))) return invalid(reply);
    return page(
      reply,
      200,
      "Confirm your subscription",
      html`<form method="post" action="/subscriptions/confirm"><input type="hidden" name="t" value="${req.query.t}"><button type="submit">Yes, send me status alerts</button></form>`,
    );
  });
  app.post<Q>("/subscriptions/confirm", async (req, reply) => {
    const claims = await claimsOf(req.body?.t ?? req.query.t, "confirm");
    if (!claims) return invalid(reply);
    await markConfirmed(
      ctx.database,
      claims.workspaceId,
      claims.recipient.slice("subscriber:".length),
      ctx.now(),
    );
    return page(reply, 200, "You are subscribed", html`<p>We will tell you when something affects you.</p>`);
  });
  app.get<Q>("/unsubscribe", async (req, reply) => {
    if (!(await claimsOf(req.query.t, "unsubscribe"))) return invalid(reply);
    return page(
      reply,
      200,
      "Stop these messages?",
      html`<form method="post" action="/unsubscribe?t=${req.query.t}"><button type="submit">Unsubscribe</button></form>`,
    );
  });
  // RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL itself.
  app.post<Q>("/unsubscribe", async (req, reply) => {
    const claims = await claimsOf(req.query.t ?? req.body?.t, "unsubscribe");
    if (!claims) return invalid(reply);
    await unsubscribe(ctx.database, claims, ctx.now());
    return page(reply, 200, "You are unsubscribed", html`<p>You will not get these messages any more.</p>`);
  });
}
