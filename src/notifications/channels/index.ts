/**
 * The channel registry. Each channel maps to an ordered list of senders: the first is the
 * primary provider, later ones are failover providers. `channelsFromEnv` is the only place that
 * reads configuration; the senders themselves take explicit config.
 *
 * Environment (a channel is enabled when its variables are set; a half-configured provider is
 * an error, not a silently missing channel):
 *   AMENDS_HTTP_TIMEOUT_MS          deadline of every provider call (default 10000)
 *   email     AMENDS_MAIL_FROM and at least one provider:
 *             AMENDS_SMTP_URL; AMENDS_SMTP_FALLBACK_URL (a second relay)
 *             POSTMARK_SERVER_TOKEN; POSTMARK_MESSAGE_STREAM (default "outbound"), POSTMARK_API_BASE
 *             SENDGRID_API_KEY; SENDGRID_API_BASE
 *             AMENDS_EMAIL_PROVIDERS  order, e.g. "postmark,smtp" (default smtp, smtp-fallback,
 *             postmark, sendgrid as configured); the first one that takes batches makes fan-outs
 *             go in batches (Postmark 500, SendGrid 1000 per request)
 *             Receipts: POSTMARK_WEBHOOK_USER, POSTMARK_WEBHOOK_PASSWORD (the Basic credentials set
 *             on the Postmark webhook pointed at /api/v1/hooks/postmark); SENDGRID_WEBHOOK_PUBLIC_KEY
 *             (the Signed Event Webhook's key, for /api/v1/hooks/sendgrid); see receipts.ts
 *   sms       TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM; TWILIO_API_BASE, TWILIO_STATUS_CALLBACK
 *             AMENDS_SMS_HTTP_URL; AMENDS_SMS_HTTP_TOKEN, AMENDS_SMS_HTTP_PROVIDER (name),
 *             AMENDS_SMS_HTTP_FIELDS ("to=msisdn,text=message,idempotencyKey=ref"), AMENDS_SMS_HTTP_ID_FIELD
 *             AMENDS_SMS_PROVIDERS  order when both are set (default "twilio,http-sms")
 *   telegram  TELEGRAM_BOT_TOKEN; TELEGRAM_API_BASE
 *   web_push  VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT
 *   mastodon  MASTODON_URL, MASTODON_TOKEN
 *   bluesky   BLUESKY_HANDLE, BLUESKY_APP_PASSWORD; BLUESKY_SERVICE (default https://bsky.social)
 *   webhook, slack, teams, discord need no server configuration (the address is the URL) and
 *   are always on.
 * Providers are chosen per deployment: every workspace of a deployment sends through the same ones.
 */
import { blueskySender } from "./bluesky.ts";
import { discordSender, slackSender, teamsSender } from "./chat.ts";
import { smtpSender } from "./email.ts";
import { type HttpSmsConfig, httpSmsSender } from "./http-sms.ts";
import { mastodonSender } from "./mastodon.ts";
import { postmarkSender } from "./postmark.ts";
import { sendGridSender } from "./sendgrid.ts";
import { telegramSender } from "./telegram.ts";
import { twilioSender } from "./twilio.ts";
import type { Channel, ChannelSender } from "./types.ts";
import { webPushSender } from "./web-push.ts";
import { webhookSender } from "./webhook.ts";

export { blueskySender } from "./bluesky.ts";
export { discordSender, slackSender, teamsSender } from "./chat.ts";
export { smtpSender } from "./email.ts";
export { httpSmsSender } from "./http-sms.ts";
export { mastodonSender } from "./mastodon.ts";
export { postmarkSender } from "./postmark.ts";
export { sendGridSender } from "./sendgrid.ts";
export { telegramSender } from "./telegram.ts";
export { twilioSender } from "./twilio.ts";
export * from "./types.ts";
export { webPushSender } from "./web-push.ts";
export { webhookSender } from "./webhook.ts";

export type ChannelRegistry = Partial<Record<Channel, ChannelSender[]>>;
type Env = Record<string, string | undefined>;

/** The variables of one provider: all or none of `required` must be set. */
function group(env: Env, required: string[]): Record<string, string> | undefined {
  const set = required.filter((name) => env[name]?.trim());
  if (set.length === 0) return undefined;
  const missing = required.filter((name) => !set.includes(name));
  if (missing.length) throw new Error(`${missing.join(", ")} must be set along with ${set.join(", ")}`);
  return Object.fromEntries(required.map((name) => [name, env[name]!.trim()]));
}

function parseFields(spec: string | undefined): HttpSmsConfig["fields"] {
  if (!spec) return undefined;
  const fields: Record<string, string> = {};
  for (const pair of spec.split(",")) {
    const [name, value] = pair.split("=").map((s) => s.trim());
    if (!name || !value || !["to", "text", "idempotencyKey"].includes(name)) {
      throw new Error(
        `AMENDS_SMS_HTTP_FIELDS: expected to=…,text=…,idempotencyKey=…, got ${JSON.stringify(pair)}`,
      );
    }
    fields[name] = value;
  }
  return fields;
}

/** Senders in the order a `…_PROVIDERS` list names them; unlisted ones keep their order after. */
function ordered(senders: ChannelSender[], list: string | undefined, strict = false): ChannelSender[] {
  const order = (list ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = order.filter((name) => !senders.some((s) => s.provider === name));
  if (strict && unknown.length)
    throw new Error(
      `${unknown.join(", ")}: not a configured provider (configured: ${senders.map((s) => s.provider).join(", ")})`,
    );
  const rank = (s: ChannelSender) => {
    const i = order.indexOf(s.provider);
    return i < 0 ? order.length : i;
  };
  return senders.sort((a, b) => rank(a) - rank(b)); // stable
}

export function channelsFromEnv(env: Env = process.env): ChannelRegistry {
  const timeoutMs = env.AMENDS_HTTP_TIMEOUT_MS ? Number(env.AMENDS_HTTP_TIMEOUT_MS) : undefined;
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new Error("AMENDS_HTTP_TIMEOUT_MS must be a positive integer of milliseconds");
  }
  const registry: ChannelRegistry = {};

  const email: ChannelSender[] = [];
  const from = env.AMENDS_MAIL_FROM?.trim();
  const mailProviders = ["AMENDS_SMTP_URL", "POSTMARK_SERVER_TOKEN", "SENDGRID_API_KEY"].filter((n) =>
    env[n]?.trim(),
  );
  if (mailProviders.length && !from)
    throw new Error(`AMENDS_MAIL_FROM must be set along with ${mailProviders.join(", ")}`);
  if (from && !mailProviders.length)
    throw new Error(
      "AMENDS_MAIL_FROM needs a provider: AMENDS_SMTP_URL, POSTMARK_SERVER_TOKEN or SENDGRID_API_KEY",
    );
  if (from) {
    if (env.AMENDS_SMTP_URL?.trim()) {
      email.push(smtpSender({ url: env.AMENDS_SMTP_URL.trim(), from, timeoutMs }));
      if (env.AMENDS_SMTP_FALLBACK_URL)
        email.push(
          smtpSender({ url: env.AMENDS_SMTP_FALLBACK_URL, from, timeoutMs, provider: "smtp-fallback" }),
        );
    }
    if (env.POSTMARK_SERVER_TOKEN?.trim())
      email.push(
        postmarkSender({
          serverToken: env.POSTMARK_SERVER_TOKEN.trim(),
          from,
          messageStream: env.POSTMARK_MESSAGE_STREAM?.trim() || undefined,
          apiBase: env.POSTMARK_API_BASE,
          timeoutMs,
        }),
      );
    if (env.SENDGRID_API_KEY?.trim())
      email.push(
        sendGridSender({
          apiKey: env.SENDGRID_API_KEY.trim(),
          from,
          apiBase: env.SENDGRID_API_BASE,
          timeoutMs,
        }),
      );
  }
  if (email.length) registry.email = ordered(email, env.AMENDS_EMAIL_PROVIDERS, true);

  const sms: ChannelSender[] = [];
  const twilio = group(env, ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"]);
  if (twilio) {
    sms.push(
      twilioSender({
        accountSid: twilio.TWILIO_ACCOUNT_SID!,
        authToken: twilio.TWILIO_AUTH_TOKEN!,
        from: twilio.TWILIO_FROM!,
        apiBase: env.TWILIO_API_BASE,
        statusCallback: env.TWILIO_STATUS_CALLBACK,
        timeoutMs,
      }),
    );
  }
  if (env.AMENDS_SMS_HTTP_URL) {
    sms.push(
      httpSmsSender({
        url: env.AMENDS_SMS_HTTP_URL,
        token: env.AMENDS_SMS_HTTP_TOKEN,
        provider: env.AMENDS_SMS_HTTP_PROVIDER,
        fields: parseFields(env.AMENDS_SMS_HTTP_FIELDS),
        idField: env.AMENDS_SMS_HTTP_ID_FIELD,
        timeoutMs,
      }),
    );
  }
  if (sms.length) registry.sms = ordered(sms, env.AMENDS_SMS_PROVIDERS); // unlisted keep twilio-first

  const telegram = group(env, ["TELEGRAM_BOT_TOKEN"]);
  if (telegram) {
    registry.telegram = [
      telegramSender({ botToken: telegram.TELEGRAM_BOT_TOKEN!, apiBase: env.TELEGRAM_API_BASE, timeoutMs }),
    ];
  }

  const vapid = group(env, ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"]);
  if (vapid) {
    registry.web_push = [
      webPushSender({
        vapid: {
          publicKey: vapid.VAPID_PUBLIC_KEY!,
          privateKey: vapid.VAPID_PRIVATE_KEY!,
          subject: vapid.VAPID_SUBJECT!,
        },
        timeoutMs,
      }),
    ];
  }

  const mastodon = group(env, ["MASTODON_URL", "MASTODON_TOKEN"]);
  if (mastodon) {
    registry.mastodon = [
      mastodonSender({
        instanceUrl: mastodon.MASTODON_URL!,
        accessToken: mastodon.MASTODON_TOKEN!,
        timeoutMs,
      }),
    ];
  }

  const bluesky = group(env, ["BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"]);
  if (bluesky) {
    registry.bluesky = [
      blueskySender({
        service: env.BLUESKY_SERVICE,
        identifier: bluesky.BLUESKY_HANDLE!,
        appPassword: bluesky.BLUESKY_APP_PASSWORD!,
        timeoutMs,
      }),
    ];
  }

  registry.webhook = [webhookSender({ timeoutMs })];
  registry.slack = [slackSender({ timeoutMs })];
  registry.teams = [teamsSender({ timeoutMs })];
  registry.discord = [discordSender({ timeoutMs })];
  return registry;
}

/** Closes every sender that holds connections (the SMTP pools). */
export async function closeChannels(registry: ChannelRegistry): Promise<void> {
  await Promise.all(Object.values(registry).flatMap((senders) => senders.map((s) => s.close?.())));
}
