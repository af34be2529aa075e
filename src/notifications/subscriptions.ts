/**
 * Subscribing from the status page or the API, with double opt-in: nothing goes to an address
 * until its owner confirms, except the one confirmation message (a signed link, or a six-digit
 * code for SMS). Abuse: per-IP and per-phone-prefix rate limits, numbers validated and
 * normalised (libphonenumber-js, full metadata so premium-rate and shared-cost numbers are
 * recognised and refused), countries limited to the workspace's list.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { and, eq, isNotNull, isNull } from "drizzle-orm";
import { parsePhoneNumberWithError } from "libphonenumber-js/max";
import { z } from "zod";
import { requireComponents, requireRegions } from "../components/store.ts";
import { AmendsError, invalidField } from "../core/errors.ts";
import { isClockTime } from "../core/notifications.ts";
import { newId } from "../lib/ids.ts";
import { isPublicTarget } from "../lib/outbound.ts";
import type { Database } from "../storage/database.ts";
import { customers, incidents, subscribers } from "../storage/schema.ts";
import { RefusedAddress } from "./channels/http.ts";
import type { ChannelRegistry } from "./channels/index.ts";
import { CHANNELS, type Channel, PermanentFailure } from "./channels/types.ts";
import { signLink } from "./links.ts";
import { loadNotificationSettings } from "./settings.ts";
import { suppressAddress } from "./suppressions.ts";
import { renderConfirmation } from "./templates.ts";

/** Channels a member of the public may subscribe with (social posts are the company's own). */
export const SUBSCRIBE_CHANNELS = CHANNELS.filter((c) => c !== "mastodon" && c !== "bluesky") as Channel[];

export const SubscribeBody = z.strictObject({
  channel: z.enum(SUBSCRIBE_CHANNELS as [Channel, ...Channel[]]),
  address: z
    .string()
    .trim()
    .min(1)
    .max(2048)
    .describe("e-mail, phone number (+39…), URL, or Telegram chat id"),
  locale: z
    .string()
    .regex(/^[a-z]{2}(-[A-Z]{2})?$/)
    .default("en"),
  components: z.array(z.string().min(1).max(200)).max(200).default([]),
  regions: z.array(z.string().min(1).max(64)).max(100).default([]),
  incident: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("follow only this open incident, until it is resolved (instead of components and regions)"),
  quiet_hours: z
    .strictObject({
      start: z.string().refine(isClockTime, "HH:MM"),
      end: z.string().refine(isClockTime, "HH:MM"),
      time_zone: z.string().refine(validTimeZone, "an IANA time zone such as Europe/Rome"),
    })
    .optional(),
  digest_minutes: z.number().int().min(5).max(1440).optional(),
  /** web push: the subscription's keys from the browser's PushSubscription */
  keys: z.strictObject({ p256dh: z.string().max(200), auth: z.string().max(100) }).optional(),
});
export type SubscribeBody = z.infer<typeof SubscribeBody>;

function validTimeZone(tz: string) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const isUrlChannel = (channel: Channel) => !["email", "sms", "telegram"].includes(channel);
const NOT_PUBLIC_ADDRESS = "must be a public address: private, local and loopback networks are refused";

/** Normalises an address for its channel, or says which field is wrong and why. */
export function normaliseAddress(
  channel: Channel,
  address: string,
  allowedCountries: readonly string[],
): { address: string; prefix?: string } {
  switch (channel) {
    case "email": {
      const parsed = z.email().safeParse(address.toLowerCase());
      if (!parsed.success) throw invalidField("address", "not an e-mail address");
      return { address: parsed.data };
    }
    case "sms": {
      let phone: ReturnType<typeof parsePhoneNumberWithError>;
      try {
        phone = parsePhoneNumberWithError(address);
      } catch {
        throw invalidField("address", "not a phone number in international form, e.g. +39 347 123 4567");
      }
      if (!phone.isValid()) throw invalidField("address", "not a valid phone number");
      const type = phone.getType();
      if (type === "PREMIUM_RATE" || type === "SHARED_COST" || type === "TOLL_FREE" || type === "VOIP")
        throw invalidField("address", `SMS is not sent to ${type.toLowerCase().replace("_", "-")} numbers`);
      if (allowedCountries.length && !allowedCountries.includes(phone.country ?? ""))
        throw invalidField("address", `SMS is not available in ${phone.country ?? "this country"}`);
      return { address: phone.number, prefix: phone.number.slice(0, 7) };
    }
    case "telegram":
      if (!/^-?\d{1,20}$|^@[A-Za-z0-9_]{5,32}$/.test(address))
        throw invalidField("address", "a Telegram chat id (digits) or @channel");
      return { address };
    default: {
      let url: URL;
      try {
        url = new URL(address);
      } catch {
        throw invalidField("address", "not a URL");
      }
      if (url.protocol !== "https:" && url.protocol !== "http:")
        throw invalidField("address", "must be https");
      return { address: url.toString() };
    }
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export interface SubscribeResult {
  id: string;
  status: "pending_confirmation";
  confirm_by: "link" | "code";
  /** webhooks only: the signing secret, shown once */
  secret?: string;
}

export async function subscribe(
  database: Database,
  channels: ChannelRegistry,
  workspaceId: string,
  body: SubscribeBody,
  now: Date,
): Promise<SubscribeResult> {
  const { settings, linkSecret, name, publicUrl } = await loadNotificationSettings(database.db, workspaceId);
  const { address } = normaliseAddress(body.channel, body.address, settings.sms.allowed_countries);
  const sender = channels[body.channel]?.[0];
  if (!sender) throw invalidField("channel", `${body.channel} is not available on this page`);
  if (body.channel === "sms" && !settings.sms.subscriptions)
    throw invalidField("channel", "this page does not offer SMS subscriptions");
  await requireComponents(database.db, workspaceId, body.components, (i) => `components.${i}`);
  await requireRegions(database.db, workspaceId, body.regions, (i) => `regions.${i}`);
  if (body.incident !== undefined && !(await isOpenIncident(database, workspaceId, body.incident)))
    throw invalidField("incident", "no open incident with this id");
  if (body.channel === "web_push" && !body.keys)
    throw invalidField("keys", "web push needs the subscription's keys");
  // A URL from the public never leads inside: refused here, before anything is written or sent
  // (and again when it is dialled, should the name point elsewhere by then).
  if (
    isUrlChannel(body.channel) &&
    !sender.allowPrivateTargets &&
    !(await isPublicTarget(new URL(address).hostname))
  )
    throw invalidField("address", NOT_PUBLIC_ADDRESS);
  const byCode = body.channel === "sms";
  // Anyone may type anyone's address: an active subscription is left as its owner set it (they
  // change it from the link in every message), and the answer is the same as for a new one.
  const [active] = await database.db
    .select({ id: subscribers.id, incidentId: subscribers.incidentId })
    .from(subscribers)
    .where(
      and(
        eq(subscribers.workspaceId, workspaceId),
        eq(subscribers.channel, body.channel),
        eq(subscribers.address, address),
        isNotNull(subscribers.confirmedAt),
        isNull(subscribers.unsubscribedAt),
      ),
    );
  // One that followed an incident now resolved has nothing left to follow: it may be asked for again.
  const following =
    active && (!active.incidentId || (await isOpenIncident(database, workspaceId, active.incidentId)));
  if (following)
    return { id: active.id, status: "pending_confirmation", confirm_by: byCode ? "code" : "link" };
  const code = byCode ? String(randomInt(0, 1_000_000)).padStart(6, "0") : undefined;
  const secret = body.channel === "webhook" ? `whsec_${randomBytes(24).toString("base64")}` : undefined;
  const id = newId("sub");
  // Subscribing again re-sends the confirmation (and a webhook's new secret) and updates the scope.
  const [row] = await database.db
    .insert(subscribers)
    .values({
      workspaceId,
      id,
      channel: body.channel,
      address,
      locale: body.locale,
      components: body.incident ? [] : body.components,
      regions: body.incident ? [] : body.regions,
      incidentId: body.incident ?? null,
      quietHours: body.quiet_hours ?? null,
      digestMinutes: body.digest_minutes ?? null,
      secrets: secret ? { webhook_secret: secret } : (body.keys ?? null),
      confirmCodeHash: code ? sha256(`${workspaceId}:${code}`) : null,
      createdAt: now,
    })
    .onConflictDoUpdate({
      target: [subscribers.workspaceId, subscribers.channel, subscribers.address],
      set: {
        locale: body.locale,
        components: body.incident ? [] : body.components,
        regions: body.incident ? [] : body.regions,
        incidentId: body.incident ?? null,
        quietHours: body.quiet_hours ?? null,
        digestMinutes: body.digest_minutes ?? null,
        confirmCodeHash: code ? sha256(`${workspaceId}:${code}`) : null,
        confirmAttempts: 0,
        unsubscribedAt: null,
        confirmedAt: null,
        ...(secret && { secrets: { webhook_secret: secret } }),
      },
    })
    .returning();
  const sub = row!;
  const base = (settings.public_url ?? publicUrl ?? "").replace(/\/$/, "");
  const token = signLink(linkSecret, {
    purpose: "confirm",
    workspaceId,
    recipient: `subscriber:${sub.id}`,
    channel: sub.channel,
    address: sub.address,
  });
  const rendered = renderConfirmation(
    body.locale,
    { company: name, timeZone: "UTC", fallbackLocale: settings.fallback_locale },
    code ? { code } : { url: `${base}/subscriptions/confirm?t=${token}` },
  );
  const confirmation = () =>
    sender.send({
      idempotencyKey: `confirm:${sub.id}:${sha256(rendered.text).slice(0, 12)}`,
      channel: sub.channel as Channel,
      address: sub.address,
      locale: rendered.locale,
      event: "subscription.confirm",
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      data: {
        type: "subscription.confirm",
        confirm_url: code ? undefined : `${base}/subscriptions/confirm?t=${token}`,
      },
      secrets: (sub.secrets as Record<string, string> | null) ?? undefined,
    });
  await confirmation().catch((err: Error) => {
    if (err instanceof RefusedAddress) throw invalidField("address", NOT_PUBLIC_ADDRESS);
    // A webhook endpoint that answers but refuses may not have the secret this answer carries
    // yet (it can verify our signature only once its owner has set it): its confirmation is tried
    // again in the background. One that cannot be reached at all is worth a retry by the caller.
    if (secret && err instanceof PermanentFailure && !err.suppress) return retryLater(confirmation);
    // What the address or the provider answered stays here: it is not the caller's to read.
    throw new AmendsError("UNAVAILABLE", "the confirmation could not be sent; try again");
  });
  return {
    id: sub.id,
    status: "pending_confirmation",
    confirm_by: byCode ? "code" : "link",
    ...(secret && { secret }),
  };
}

/**
 * Tries `send` again after each delay until it succeeds. In this process's memory: should it stop
 * first, subscribing again sends a new confirmation (with a new secret).
 */
function retryLater(send: () => Promise<unknown>, delaysMs = [1_000, 5_000, 20_000, 60_000, 120_000]) {
  const [delay, ...rest] = delaysMs;
  if (delay === undefined) return;
  setTimeout(() => send().catch(() => retryLater(send, rest)), delay).unref();
}

async function isOpenIncident(database: Database, workspaceId: string, id: string): Promise<boolean> {
  const [row] = await database.db
    .select({ resolvedAt: incidents.resolvedAt })
    .from(incidents)
    .where(and(eq(incidents.workspaceId, workspaceId), eq(incidents.id, id)));
  return row !== undefined && row.resolvedAt === null;
}

/** Confirms by the code sent by SMS; five wrong codes and the subscription must be asked for again. */
export async function confirmByCode(
  database: Database,
  workspaceId: string,
  id: string,
  code: string,
  now: Date,
) {
  const [sub] = await database.db
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.workspaceId, workspaceId), eq(subscribers.id, id)));
  if (!sub?.confirmCodeHash || sub.confirmAttempts >= 5)
    throw invalidField("code", "no confirmation is pending");
  if (sha256(`${workspaceId}:${code}`) !== sub.confirmCodeHash) {
    await database.db
      .update(subscribers)
      .set({ confirmAttempts: sub.confirmAttempts + 1 })
      .where(and(eq(subscribers.workspaceId, workspaceId), eq(subscribers.id, id)));
    throw invalidField("code", "wrong code");
  }
  await markConfirmed(database, workspaceId, id, now);
}

export async function markConfirmed(database: Database, workspaceId: string, id: string, now: Date) {
  await database.db
    .update(subscribers)
    .set({ confirmedAt: now, confirmCodeHash: null, unsubscribedAt: null })
    .where(and(eq(subscribers.workspaceId, workspaceId), eq(subscribers.id, id)));
}

/** From a signed link: a subscriber stops; a customer's address is suppressed for these messages. */
export async function unsubscribe(
  database: Database,
  claims: { workspaceId: string; recipient: string; channel: string; address: string },
  now: Date,
) {
  if (claims.recipient.startsWith("subscriber:")) {
    await database.db
      .update(subscribers)
      .set({ unsubscribedAt: now })
      .where(
        and(eq(subscribers.workspaceId, claims.workspaceId), eq(subscribers.id, claims.recipient.slice(11))),
      );
  } else {
    await suppressAddress(database, claims.workspaceId, claims.channel, claims.address, "unsubscribed", now);
  }
}

/** A subscriber of the workspace, or undefined. */
export async function findSubscriber(database: Database, workspaceId: string, id: string) {
  const [sub] = await database.db
    .select()
    .from(subscribers)
    .where(and(eq(subscribers.workspaceId, workspaceId), eq(subscribers.id, id)));
  return sub;
}

/** The language a link's recipient chose (a subscriber's or a customer's stored locale). */
export async function recipientLocale(
  database: Database,
  claims: { workspaceId: string; recipient: string },
): Promise<string | undefined> {
  const [kind, id] = [
    claims.recipient.slice(0, claims.recipient.indexOf(":")),
    claims.recipient.slice(claims.recipient.indexOf(":") + 1),
  ];
  if (kind === "subscriber") return (await findSubscriber(database, claims.workspaceId, id))?.locale;
  if (kind !== "customer") return undefined;
  const [c] = await database.db
    .select({ locale: customers.locale })
    .from(customers)
    .where(and(eq(customers.workspaceId, claims.workspaceId), eq(customers.id, id)));
  return c?.locale;
}

/** A subscriber changes what they follow (from their management page); unknown names are refused. */
export async function changeScope(
  database: Database,
  workspaceId: string,
  id: string,
  scope: { components: string[]; regions: string[] },
) {
  await requireComponents(database.db, workspaceId, scope.components, (i) => `components.${i}`);
  await requireRegions(database.db, workspaceId, scope.regions, (i) => `regions.${i}`);
  await database.db
    .update(subscribers)
    // Choosing what to follow makes a subscription to one incident a subscription to the page.
    .set({ components: scope.components, regions: scope.regions, incidentId: null })
    .where(and(eq(subscribers.workspaceId, workspaceId), eq(subscribers.id, id)));
}
