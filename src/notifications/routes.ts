/**
 * Notifications over HTTP: subscribing (public, rate-limited), confirming and unsubscribing from
 * signed links (public pages; RFC 8058 one-click POST), and for operators the settings, the
 * subscriber list, and each event's estimate, confirmation and progress.
 */
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { and, desc, eq, sql } from "drizzle-orm";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { DatabaseLimiter } from "../access/rate-limit-store.ts";
import { loadComponentTree, requireComponents } from "../components/store.ts";
import { AmendsError, conflict, invalidField, notFound } from "../core/errors.ts";
import { principal } from "../http/auth.ts";
import type { ApiContext } from "../http/context.ts";
import { acceptForms, field, fieldList } from "../http/forms.ts";
import { toAmendsError } from "../http/problem.ts";
import { Id, iso } from "../http/zod.ts";
import { isLocale, type Locale, localized, type MessageKey, t } from "../i18n/catalog.ts";
import { getIncident } from "../incidents/store.ts";
import { type Html, html } from "../lib/html.ts";
import { newId } from "../lib/ids.ts";
import { renderSimplePage, scopeChoice } from "../status-page/render-html.ts";
import type { Database, Db } from "../storage/database.ts";
import { outboxMessages, subscribers, workspaces } from "../storage/schema.ts";
import { defaultWorkspace } from "../workspaces/store.ts";
import type { ChannelRegistry } from "./channels/index.ts";
import { CHANNELS } from "./channels/types.ts";
import { unsubscribeToken } from "./compose.ts";
import {
  type LinkClaims,
  type LinkPurpose,
  readLink,
  shortLinkClaims,
  shortLinkRecipient,
  signLink,
  verifyLink,
} from "./links.ts";
import { estimateEvent, socialChannels } from "./notifier.ts";
import {
  basicAuthValid,
  postmarkReceipt,
  type ReceiptSettings,
  recordReceipt,
  sendGridReceipt,
  sendGridVerifier,
  twilioReceipt,
  twilioSignatureValid,
} from "./receipts.ts";
import { loadNotificationSettings, NotificationSettings, saveNotificationSettings } from "./settings.ts";
import {
  changeScope,
  confirmByCode,
  findSubscriber,
  markConfirmed,
  normaliseAddress,
  recipientLocale,
  SubscribeBody,
  subscribe,
  unsubscribe,
} from "./subscriptions.ts";
import { suppressAddress } from "./suppressions.ts";
import { waitingOf } from "./waiting.ts";

/**
 * Subscription limits: per client IP, and per phone-number prefix (SMS pumping). Counted in the
 * database, so every process behind it counts the same attempts.
 */
export const subscriptionLimits = (database: Database) => ({
  perIp: new DatabaseLimiter(database, "subscribe:ip", 20, 10 * 60_000),
  perPhonePrefix: new DatabaseLimiter(database, "subscribe:phone", 5, 60 * 60_000),
});
type Limits = ReturnType<typeof subscriptionLimits>;

/** SMS pumping: a few subscriptions per number range an hour (the number is checked first). */
function takeSmsPrefix(limits: Limits, address: string, settings: NotificationSettings, now: Date) {
  const { prefix } = normaliseAddress("sms", address, settings.sms.allowed_countries);
  return limits.perPhonePrefix.take(prefix!, now);
}

export type { ReceiptSettings } from "./receipts.ts";

/** Postmark's webhook record: only what a receipt needs is checked; Postmark sends many more fields. */
const PostmarkRecord = z.looseObject({
  RecordType: z.string().min(1).max(50),
  MessageID: z.string().max(200).optional(),
  Type: z
    .string()
    .regex(/^[A-Za-z]{1,50}$/)
    .optional(),
  Inactive: z.boolean().optional(),
});

/** One SendGrid event; `amends_id` is the custom_args value each recipient was sent with. */
const SendGridEvent = z.looseObject({
  event: z.string().min(1).max(50),
  type: z.string().max(50).optional(),
  reason: z.string().max(2000).optional(),
  amends_id: z.string().max(100).optional(),
});

/** A webhook body read whole (for its signature) up to the API's body limit. */
async function readAll(payload: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += b.length;
    if (size > limit) throw new AmendsError("PAYLOAD_TOO_LARGE");
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export const notificationRoutes =
  (
    ctx: ApiContext,
    channels: ChannelRegistry,
    limits: Limits,
    receipts: ReceiptSettings = {},
  ): FastifyPluginAsyncZod =>
  async (app) => {
    const { perIp } = limits;
    const tags = ["notifications"];
    acceptForms(app);

    app.post(
      "/hooks/twilio/status",
      {
        schema: {
          operationId: "receiveTwilioStatus",
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
      "/hooks/postmark",
      {
        schema: {
          operationId: "receivePostmarkWebhook",
          tags,
          summary:
            "Postmark's webhooks (delivery, bounce, spam complaint), with the HTTP Basic credentials set on the webhook",
          body: PostmarkRecord,
          security: [],
        },
        // Before the body is read: a caller without the credentials learns nothing about its shape.
        onRequest: async (req, reply) => {
          const postmark = receipts.postmark;
          if (!postmark) throw notFound("receipt endpoint", "postmark");
          if (!basicAuthValid(req.headers.authorization, postmark.user, postmark.password)) {
            reply.header("www-authenticate", 'Basic realm="amends-hooks"');
            throw new AmendsError("UNAUTHENTICATED", "the webhook's credentials do not match");
          }
        },
      },
      async (req, reply) => {
        const receipt = postmarkReceipt(req.body);
        if (receipt && req.body.MessageID)
          await recordReceipt(
            ctx.database,
            { provider: "postmark", messageId: req.body.MessageID, ...receipt },
            ctx.now(),
          );
        return reply.code(204).send();
      },
    );
    const verifySendGrid = receipts.sendgrid && sendGridVerifier(receipts.sendgrid.publicKey);
    app.post(
      "/hooks/sendgrid",
      {
        schema: {
          operationId: "receiveSendgridEvents",
          tags,
          summary: "SendGrid's Event Webhook (an array of events), checked against its ECDSA signature",
          body: z.array(SendGridEvent).max(10_000),
          security: [],
        },
        // The signature covers the raw bytes: read them before JSON parsing, and refuse before it.
        preParsing: async (req, _reply, payload) => {
          if (!verifySendGrid) throw notFound("receipt endpoint", "sendgrid");
          const raw = await readAll(payload, app.initialConfig.bodyLimit ?? 1024 * 1024);
          const header = (name: string) => {
            const v = req.headers[name];
            return Array.isArray(v) ? v[0] : v;
          };
          if (
            !verifySendGrid(
              raw,
              header("x-twilio-email-event-webhook-signature"),
              header("x-twilio-email-event-webhook-timestamp"),
            )
          )
            throw new AmendsError("FORBIDDEN", "the X-Twilio-Email-Event-Webhook-Signature does not match");
          return Readable.from(raw);
        },
      },
      async (req, reply) => {
        const now = ctx.now();
        for (const event of req.body) {
          const receipt = sendGridReceipt(event);
          if (receipt && event.amends_id)
            await recordReceipt(
              ctx.database,
              { provider: "sendgrid", messageId: event.amends_id, ...receipt },
              now,
            );
        }
        return reply.code(204).send();
      },
    );
    app.post(
      "/hooks/bounces",
      {
        schema: {
          operationId: "reportBounce",
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
          operationId: "createPublicSubscription",
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
          if (!(await takeSmsPrefix(limits, req.body.address, settings, now)))
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
          operationId: "confirmPublicSubscription",
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
      {
        schema: {
          operationId: "getNotificationSettings",
          summary: "Who is told what: affected customers, the team, languages, SMS and e-mail settings",
          tags,
          response: { 200: NotificationSettings },
        },
        preHandler: ctx.auth("read"),
      },
      async (req) => (await loadNotificationSettings(ctx.db, principal(req).workspaceId)).settings,
    );
    app.put(
      "/notification-settings",
      {
        schema: {
          operationId: "putNotificationSettings",
          summary: "Replace the notification settings",
          tags,
          body: NotificationSettings,
          response: { 200: NotificationSettings },
        },
        preHandler: ctx.auth("notifications:write"),
      },
      async (req) => {
        await saveNotificationSettings(ctx.db, principal(req).workspaceId, req.body);
        ctx.changed(principal(req).workspaceId); // the page's form offers SMS or not
        return req.body;
      },
    );
    app.get(
      "/subscribers",
      {
        schema: {
          operationId: "listSubscribers",
          summary: "List the page's subscribers and their channels",
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
            incident_id: s.incidentId,
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
          operationId: "updateSubscriber",
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
          operationId: "estimateNotification",
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
      async (req) => {
        const ws = principal(req).workspaceId;
        await requireComponents(ctx.db, ws, req.body.components, (i) => `components.${i}`);
        return estimateEvent(
          ctx.database,
          {
            workspaceId: ws,
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
        );
      },
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
          operationId: "listNotificationEvents",
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
          operationId: "getNotificationEvent",
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
          operationId: "confirmNotificationEvent",
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

/** A stored locale ("it", "it-IT", "pt-BR") as one of the page's languages. */
const pageLocale = (stored: string | undefined): Locale => {
  if (isLocale(stored)) return stored;
  const language = stored?.slice(0, 2);
  return isLocale(language) ? language : "en";
};

/**
 * The public pages behind the status page's form and the links in messages, each in the
 * reader's language: the form's own (its hidden `locale`), or the one the subscriber or
 * customer chose, read from the signed link. GET only shows a button (link scanners must not
 * act); only POST changes anything. Forms arrive urlencoded or as multipart (RFC 8058 clients
 * send either).
 */
export async function notificationPages(
  app: FastifyInstance,
  ctx: ApiContext,
  channels: ChannelRegistry,
  limits: Limits,
) {
  const { perIp } = limits;
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
  // Without a VAPID key the answer is null, not an error: the page's script then keeps the button hidden.
  app.get("/push/key", (_req, reply) =>
    reply.header("cache-control", "public, max-age=300").send({ key: pushKey ?? null }),
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
  const page = (reply: FastifyReply, status: number, locale: Locale, title: MessageKey, body: Html) =>
    reply
      .code(status)
      .type("text/html; charset=utf-8")
      .header("content-language", locale)
      .send(renderSimplePage(t(locale, title), body, locale));
  const linkLocale = async (claims: LinkClaims | undefined, form: unknown) =>
    claims ? pageLocale(await recipientLocale(ctx.database, claims)) : pageLocale(field(form, "locale"));
  const invalid = (reply: FastifyReply, locale: Locale) =>
    page(reply, 400, locale, "linkInvalidTitle", html`<p>${t(locale, "linkInvalidText")}</p>`);
  /** The management link of a subscriber: the same signed token as their unsubscribe link. */
  const manageToken = async (workspaceId: string, sub: { id: string; channel: string; address: string }) => {
    const { linkSecret } = await loadNotificationSettings(ctx.db, workspaceId);
    return unsubscribeToken(linkSecret, workspaceId, {
      recipient: `subscriber:${sub.id}`,
      channel: sub.channel,
      address: sub.address,
    });
  };
  const manageLink = (token: string, locale: Locale) =>
    html`<p><a href="/subscriptions/manage?t=${token}">${t(locale, "manageLink")}</a></p>`;
  const codeForm = (id: string, locale: Locale) =>
    html`<form method="post" action="/subscribe/confirm" class="subscribe-form"><input type="hidden" name="locale" value="${locale}"><input type="hidden" name="id" value="${id}">
<label for="code">${t(locale, "codeLabel")}</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit">${t(locale, "codeButton")}</button></form>`;
  type Q = { Querystring: { t?: string }; Body: unknown };

  // The status page's form: e-mail and (where offered) SMS, the chosen components and cities.
  app.post<{ Body: unknown }>("/subscribe", async (req, reply) => {
    const form = req.body;
    const locale = pageLocale(field(form, "locale"));
    const now = ctx.now();
    const tooMany = () =>
      page(reply, 429, locale, "subscribeTitle", html`<p>${t(locale, "subscribeTooMany")}</p>`);
    if (!(await perIp.take(req.ip, now))) return tooMany();
    const ws = await defaultWorkspace(ctx.db);
    if (!ws) throw notFound("workspace", "default");
    const wanted = (
      [
        ["email", (field(form, "email") ?? field(form, "address") ?? "").trim()],
        ["sms", (field(form, "phone") ?? "").trim()],
      ] as const
    ).filter(([, address]) => address);
    const refuse = (key: MessageKey) =>
      page(reply, 400, locale, "subscribeTitle", html`<p role="alert">${t(locale, key)}</p>`);
    if (wanted.length === 0) return refuse("subscribeNothing");
    const bodies: SubscribeBody[] = [];
    for (const [channel, address] of wanted) {
      const body = SubscribeBody.safeParse({
        channel,
        address,
        locale,
        components: fieldList(form, "components"),
        regions: fieldList(form, "regions"),
        incident: field(form, "incident") || undefined,
      });
      if (!body.success) return refuse(channel === "sms" ? "subscribeBadPhone" : "subscribeBadEmail");
      bodies.push(body.data);
    }
    const said: Html[] = [];
    try {
      // Every address is checked before anything is sent, so a bad number sends no e-mail either.
      const { settings } = await loadNotificationSettings(ctx.db, ws.id);
      for (const b of bodies) {
        try {
          normaliseAddress(b.channel, b.address, settings.sms.allowed_countries);
        } catch {
          return refuse(b.channel === "sms" ? "subscribeBadPhone" : "subscribeBadEmail");
        }
        if (b.channel === "sms" && !(await takeSmsPrefix(limits, b.address, settings, now))) return tooMany();
      }
      for (const b of bodies) {
        const result = await subscribe(ctx.database, channels, ws.id, b, now);
        if (b.channel === "sms")
          said.push(
            html`<p>${t(locale, "checkPhone", { phone: b.address })}</p>${codeForm(result.id, locale)}`,
          );
        else said.push(html`<p>${t(locale, "checkInbox", { address: b.address })}</p>`);
      }
    } catch (err) {
      const known = toAmendsError(err);
      if (!known || known.status >= 500) throw err;
      if (known.code === "RATE_LIMITED") return tooMany();
      return page(
        reply,
        known.status,
        locale,
        "subscribeTitle",
        html`<p role="alert">${t(locale, "reportInvalid", { field: known.fields[0]?.field ?? known.message })}</p>`,
      );
    }
    return page(reply, 200, locale, "subscribeTitle", html`${said}`);
  });
  // The code sent by SMS, typed into the page (the API's /public/subscriptions/{id}/confirm, as a form).
  app.post<{ Body: unknown }>("/subscribe/confirm", async (req, reply) => {
    const form = req.body;
    const locale = pageLocale(field(form, "locale"));
    if (!(await perIp.take(req.ip, ctx.now())))
      return page(reply, 429, locale, "subscribeTitle", html`<p>${t(locale, "subscribeTooMany")}</p>`);
    const ws = await defaultWorkspace(ctx.db);
    const id = field(form, "id") ?? "";
    const sub = ws && /^[\w.:-]{1,64}$/.test(id) ? await findSubscriber(ctx.database, ws.id, id) : undefined;
    const code = field(form, "code") ?? "";
    if (!ws || !sub) return invalid(reply, locale);
    try {
      if (!/^\d{6}$/.test(code)) throw invalidField("code", "six digits");
      await confirmByCode(ctx.database, ws.id, sub.id, code, ctx.now());
    } catch (err) {
      if (toAmendsError(err)?.status !== 400) throw err;
      return page(
        reply,
        400,
        locale,
        "confirmTitle",
        html`<p role="alert">${t(locale, "codeWrong")}</p>${codeForm(sub.id, locale)}`,
      );
    }
    return page(
      reply,
      200,
      locale,
      "subscribedTitle",
      html`<p>${t(locale, "subscribedText")}</p>${manageLink(await manageToken(ws.id, sub), locale)}`,
    );
  });

  app.get<Q>("/subscriptions/confirm", async (req, reply) => {
    const claims = await claimsOf(req.query.t, "confirm");
    const locale = await linkLocale(claims, undefined);
    if (!claims) return invalid(reply, locale);
    return page(
      reply,
      200,
      locale,
      "confirmTitle",
      html`<form method="post" action="/subscriptions/confirm"><input type="hidden" name="t" value="${req.query.t}"><button type="submit">${t(locale, "confirmButton")}</button></form>`,
    );
  });
  app.post<Q>("/subscriptions/confirm", async (req, reply) => {
    const claims = await claimsOf(field(req.body, "t") ?? req.query.t, "confirm");
    const locale = await linkLocale(claims, req.body);
    if (!claims) return invalid(reply, locale);
    const id = claims.recipient.slice("subscriber:".length);
    await markConfirmed(ctx.database, claims.workspaceId, id, ctx.now());
    return page(
      reply,
      200,
      locale,
      "subscribedTitle",
      html`<p>${t(locale, "subscribedText")}</p>${manageLink(await manageToken(claims.workspaceId, { id, channel: claims.channel, address: claims.address }), locale)}`,
    );
  });

  // A subscriber's own page: what they follow, changed from the link in any message.
  const managePage = async (reply: FastifyReply, token: string, claims: LinkClaims, saved: boolean) => {
    const locale = await linkLocale(claims, undefined);
    const sub = claims.recipient.startsWith("subscriber:")
      ? await findSubscriber(ctx.database, claims.workspaceId, claims.recipient.slice("subscriber:".length))
      : undefined;
    if (!sub || sub.unsubscribedAt) return reply.redirect(`/unsubscribe?t=${encodeURIComponent(token)}`, 303);
    const tree = await loadComponentTree(ctx.db, claims.workspaceId);
    const followed = sub.incidentId
      ? await getIncident(ctx.db, claims.workspaceId, sub.incidentId).catch(() => undefined)
      : undefined;
    return page(
      reply,
      200,
      locale,
      "manageTitle",
      html`${saved ? html`<p role="status">${t(locale, "manageSaved")}</p>` : ""}${
        followed
          ? html`<p>${t(locale, "manageFollowing", { title: localized(followed.title, followed.titleTranslations, locale) })}</p>`
          : ""
      }<p>${t(locale, "manageIntro", { address: sub.address })}</p>
<form method="post" action="/subscriptions/manage" class="subscribe-form choose"><input type="hidden" name="t" value="${token}">${scopeChoice(tree, locale, sub)}
<button type="submit">${t(locale, "manageSave")}</button></form>
<p><a href="/unsubscribe?t=${token}">${t(locale, "unsubscribeButton")}</a></p>`,
    );
  };
  app.get<Q>("/subscriptions/manage", async (req, reply) => {
    const claims = await claimsOf(req.query.t, "unsubscribe");
    if (!claims) return invalid(reply, pageLocale(undefined));
    return managePage(reply, req.query.t!, claims, false);
  });
  app.post<Q>("/subscriptions/manage", async (req, reply) => {
    const token = field(req.body, "t") ?? req.query.t;
    const claims = await claimsOf(token, "unsubscribe");
    if (!claims || !claims.recipient.startsWith("subscriber:")) return invalid(reply, pageLocale(undefined));
    await changeScope(ctx.database, claims.workspaceId, claims.recipient.slice("subscriber:".length), {
      components: fieldList(req.body, "components").slice(0, 200),
      regions: fieldList(req.body, "regions").slice(0, 100),
    });
    return managePage(reply, token!, claims, true);
  });

  app.get<Q>("/unsubscribe", async (req, reply) => {
    const claims = await claimsOf(req.query.t, "unsubscribe");
    const locale = await linkLocale(claims, undefined);
    if (!claims) return invalid(reply, locale);
    return page(
      reply,
      200,
      locale,
      "unsubscribeTitle",
      html`<form method="post" action="/unsubscribe?t=${req.query.t}"><button type="submit">${t(locale, "unsubscribeButton")}</button></form>${
        claims.recipient.startsWith("subscriber:") ? manageLink(req.query.t!, locale) : ""
      }`,
    );
  });
  // An SMS's short link: checked against the recipient's own SMS addresses, then the usual page.
  app.get<{ Params: { token: string } }>("/u/:token", async (req, reply) => {
    const ws = await defaultWorkspace(ctx.db);
    const recipient = shortLinkRecipient(req.params.token);
    if (!ws || !recipient) return invalid(reply, pageLocale(undefined));
    const id = recipient.slice(recipient.indexOf(":") + 1);
    const addresses = await ctx.database.query<{ address: string }>(
      recipient.startsWith("subscriber:")
        ? `select address from subscribers where workspace_id = $1 and id = $2 and channel = 'sms'`
        : `select e->>'address' as address from customers c cross join lateral jsonb_array_elements(c.channels) e
            where c.workspace_id = $1 and c.id = $2 and e->>'type' = 'sms'`,
      [ws.id, id],
    );
    const claims = shortLinkClaims(
      ws.linkSecret,
      req.params.token,
      ws.id,
      "sms",
      addresses.map((a) => a.address),
    );
    if (!claims) return invalid(reply, pageLocale(undefined));
    return reply.redirect(`/unsubscribe?t=${signLink(ws.linkSecret, claims)}`, 303);
  });
  // RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL itself.
  app.post<Q>("/unsubscribe", async (req, reply) => {
    const claims = await claimsOf(req.query.t ?? field(req.body, "t"), "unsubscribe");
    const locale = await linkLocale(claims, req.body);
    if (!claims) return invalid(reply, locale);
    await unsubscribe(ctx.database, claims, ctx.now());
    return page(reply, 200, locale, "unsubscribedTitle", html`<p>${t(locale, "unsubscribedText")}</p>`);
  });
}
