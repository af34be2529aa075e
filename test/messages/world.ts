/**
 * The message contract suite's world: one workspace driven only through its public API, with every
 * message caught where it lands — a real SMTP server, and Twilio-, Mastodon- and webhook-shaped
 * fakes speaking their providers' wire formats, and a webhook endpoint that verifies each signature. `inbox()` reads them back as what each person or
 * account received (channel, address, language, words), so the scenarios assert on that alone.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "vitest";
import type { ChannelRegistry } from "../../src/notifications/channels/index.ts";
import { mastodonSender } from "../../src/notifications/channels/mastodon.ts";
import { webhookSender } from "../../src/notifications/channels/webhook.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import type { BackendName } from "../support/backends.ts";
import { startChannelFakes } from "../support/channels.ts";
import { MastodonFake } from "../support/fakes/mastodon.ts";
import { decodeWords, leaves, type SmtpFake } from "../support/fakes/smtp.ts";
import type { TwilioFake } from "../support/fakes/twilio.ts";
import { WebhookReceiver } from "../support/fakes/webhook-receiver.ts";

const BIN = fileURLToPath(new URL("../../bin/amends.js", import.meta.url));
const run = promisify(execFile);

export interface Received {
  channel: "email" | "sms" | "mastodon" | "webhook";
  /** e-mail address, E.164 number, "public" for a social post, or the webhook's URL */
  to: string;
  /** the language the message declares (Content-Language, Mastodon's language), if any */
  lang: string | null;
  subject: string;
  /** every word the receiver can read: subject, plain text and the HTML part's text (a webhook's `data` as JSON) */
  text: string;
  /** the e-mail's HTML part, as sent */
  html: string;
  headers: Map<string, string>;
}

export interface Mark {
  email: number;
  sms: number;
  mastodon: number;
  webhook: number;
}

export interface World {
  t: TestApp;
  smtp: SmtpFake;
  twilio: TwilioFake;
  mastodon: MastodonFake;
  /** a subscriber's webhook endpoint on loopback; set its `secret` to the one the subscription returned */
  hooks: WebhookReceiver;
  notifier: Notifier;
  inbox(): Received[];
  /** where each receiver's list stands now, for `since` */
  mark(): Mark;
  /** what arrived after `mark` */
  since(mark: Mark): Received[];
  /** runs the CLI against this world's server (listening on first use), as an operator would */
  cli(...args: string[]): Promise<any>;
  /** dispatches, then waits until no new message has arrived for `quietMs` */
  settle(quietMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startWorld(backend: BackendName): Promise<World> {
  const emailAndSms = await startChannelFakes({ from: "Status <status@example.test>" });
  const { smtp, twilio } = emailAndSms;
  const mastodon = new MastodonFake();
  await mastodon.start();
  const hooks = await new WebhookReceiver("").start();
  const channels: ChannelRegistry = {
    ...emailAndSms.channels,
    mastodon: [mastodonSender({ instanceUrl: mastodon.url, accessToken: mastodon.token })],
    webhook: [webhookSender({ allowPrivateTargets: true })], // the endpoint is on loopback
  };
  const t = await startTestApp(backend, { channels });
  const notifier = await startNotifier(t.database, { channels });

  const mark = (): Mark => ({
    email: smtp.received.length,
    sms: twilio.messages.length,
    mastodon: mastodon.statuses.length,
    webhook: hooks.deliveries.length,
  });
  const since = (from: Mark): Received[] => read(from);
  const inbox = (): Received[] => read({ email: 0, sms: 0, mastodon: 0, webhook: 0 });
  const read = (from: Mark): Received[] => [
    ...smtp.received.slice(from.email).flatMap((m) => {
      const parts = leaves(m.message);
      const plain = parts.find((p) => (p.headers.get("content-type") ?? "").startsWith("text/plain"));
      const html = parts.find((p) => (p.headers.get("content-type") ?? "").startsWith("text/html"));
      const subject = decodeWords(m.message.headers.get("subject") ?? "");
      const htmlText = (html?.body ?? "")
        .replace(/<style[\s\S]*?<\/style>/g, "")
        .replace(/<[^>]+>/g, " ")
        .replace(/&nbsp;/g, " ");
      return m.to.map((to) => ({
        channel: "email" as const,
        to,
        lang: m.message.headers.get("content-language") ?? null,
        subject,
        text: `${subject}\n${plain?.body ?? ""}\n${htmlText}`.replace(/[\u00a0\u202f]/g, " "),
        html: html?.body ?? "",
        headers: m.message.headers,
      }));
    }),
    ...twilio.messages.slice(from.sms).map((s) => ({
      channel: "sms" as const,
      to: s.to,
      lang: null,
      subject: "",
      text: s.body,
      html: "",
      headers: new Map<string, string>(),
    })),
    ...mastodon.statuses.slice(from.mastodon).map((s) => ({
      channel: "mastodon" as const,
      to: s.visibility,
      lang: s.language,
      subject: "",
      text: s.status,
      html: "",
      headers: new Map<string, string>(),
    })),
    ...hooks.deliveries.slice(from.webhook).map((d) => ({
      channel: "webhook" as const,
      to: d.url,
      lang: d.payload.data?.locale ?? null,
      subject: String(d.payload.type),
      text: JSON.stringify(d.payload.data ?? {}),
      html: "",
      headers: new Map<string, string>([["webhook-id", d.id]]),
    })),
  ];

  const settle = async (quietMs = 1_500) => {
    const deadline = Date.now() + 25_000;
    let seen = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      await notifier.dispatch();
      const n = inbox().length;
      if (n !== seen) {
        seen = n;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    return inbox();
  };

  let url: string | undefined;
  const cli = async (...args: string[]) => {
    url ??= await t.app.listen({ port: 0, host: "127.0.0.1" });
    const { stdout } = await run(process.execPath, [BIN, "--json", ...args], {
      env: { ...process.env, AMENDS_URL: url, AMENDS_TOKEN: t.token },
      timeout: 60_000,
    });
    return JSON.parse(stdout);
  };

  return {
    t,
    smtp,
    twilio,
    mastodon,
    hooks,
    notifier,
    inbox,
    mark,
    since,
    cli,
    settle,
    async close() {
      await notifier.stop();
      await t.close();
      await emailAndSms.stop();
      await mastodon.stop();
      await hooks.stop();
    },
  };
}

/** POST/PUT through the API and insist it worked, with the problem document in the failure. */
export async function ok(t: TestApp, method: string, url: string, body?: unknown, status = [200, 201, 202]) {
  const res = await t.call(method, url, body);
  expect(status, `${method} ${url} → ${res.status} ${JSON.stringify(res.json)}`).toContain(res.status);
  return res.json;
}

// The scenarios read it as part of the world; it lives with TestApp for the notification tests too.
export { importCsv } from "../support/app.ts";

const ISO_INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/**
 * What no customer or public reader may ever see: raw ISO timestamps, the ids and internal names
 * given, and words meant for the team.
 */
export function expectCustomerWords(m: Received, forbidden: string[]) {
  // Links may carry ids in their paths and tokens; what a person reads is the rest.
  const words = m.text.replace(/https?:\/\/\S+/g, "");
  const where = `${m.channel} to ${m.to}: ${words.slice(0, 400)}`;
  expect(words, where).not.toMatch(ISO_INSTANT);
  for (const word of forbidden)
    expect(words.toLowerCase(), `${where}\nmust not contain ${word}`).not.toContain(word.toLowerCase());
}

/** Exactly one message per (address, channel) in `messages`; returns them by address. */
export function onePerRecipient(messages: Received[]): Map<string, Received> {
  const by = new Map<string, Received>();
  for (const m of messages) {
    const key = `${m.channel}:${m.to}`;
    expect(by.has(key), `${key} received twice:\n${m.text}\n---\n${by.get(key)?.text}`).toBe(false);
    by.set(key, m);
  }
  return by;
}

// GSM 03.38: the basic set is one septet each, the extension table two; anything else makes the
// message UCS-2, where each UTF-16 unit counts. Written here apart from the product's own counter,
// so the suite checks the estimate against an independent reading of the same rule.
const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "^{}\\[~]|€\f";

/** The segments an SMS body takes on the wire. */
export function segmentsOf(body: string): number {
  let septets = 0;
  let gsm = true;
  for (const ch of body) {
    if (GSM_BASIC.includes(ch)) septets += 1;
    else if (GSM_EXTENDED.includes(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) return septets <= 160 ? 1 : Math.ceil(septets / 153);
  const units = body.length; // UTF-16 code units
  return units <= 70 ? 1 : Math.ceil(units / 67);
}
