/**
 * The audience table, walked at the receivers: one event of every kind in the table goes through
 * the real notifier, and each audience's receiver (the team's, a subscriber's and an affected
 * customer's mailboxes on a real SMTP server, a webhook endpoint, the company's Mastodon) gets it
 * exactly when the table says so. Team-only news (an overdue update, monitor and report alerts)
 * never reaches the public.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCES, type Audience, EVENT_AUDIENCES } from "../../src/core/audiences.ts";
import { queueOverdueReminders } from "../../src/incidents/reminders.ts";
import { messageId, smtpSender } from "../../src/notifications/channels/email.ts";
import type { ChannelRegistry } from "../../src/notifications/channels/index.ts";
import { mastodonSender } from "../../src/notifications/channels/mastodon.ts";
import { webhookSender } from "../../src/notifications/channels/webhook.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { MastodonFake } from "../support/fakes/mastodon.ts";
import { SmtpFake } from "../support/fakes/smtp.ts";
import { WebhookReceiver } from "../support/fakes/webhook-receiver.ts";
import { until } from "../support/until.ts";

const SECRET = `whsec_${Buffer.from("audience-walk-secret-0123456789").toString("base64")}`;
const DOMAIN = "isp.test";
const MAILBOXES = { team: "ops@isp.test", subscribers: "sub@example.com", customers: "c1@example.com" };
/** the recipient and channel each mailbox's deliveries are keyed by */
const KEYED = {
  team: "team:0:email",
  subscribers: "subscriber:sub_mail:email",
  customers: "customer:C1:email",
};

describe.each(BACKENDS)("the audience table at the receivers on %s", (backend) => {
  let t: TestApp;
  const smtp = new SmtpFake();
  const mastodon = new MastodonFake();
  const hooks = new WebhookReceiver(SECRET);
  let notifier: Notifier;

  beforeAll(async () => {
    await Promise.all([smtp.start(), mastodon.start(), hooks.start()]);
    const channels: ChannelRegistry = {
      email: [smtpSender({ url: smtp.url, from: `ISP <status@${DOMAIN}>` })],
      mastodon: [mastodonSender({ instanceUrl: mastodon.url, accessToken: mastodon.token })],
      webhook: [webhookSender({ allowPrivateTargets: true })], // the receiver is on loopback
    };
    t = await startTestApp(backend, { channels });
    notifier = await startNotifier(t.database, { channels });
    expect(
      (await t.call("POST", "/api/v1/components", { id: "tower", name: "Tower", region: "sondrio" })).status,
    ).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "https://status.isp.test",
      notify_affected_customers: true,
      team: [{ channel: "email", address: MAILBOXES.team }],
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
    await t.database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, components, secrets, confirmed_at, created_at)
       values ($1, 'sub_mail', 'email', $2, 'en', '{tower}', null, now(), now()),
              ($1, 'sub_hook', 'webhook', $3, 'en', '{tower}', jsonb_build_object('webhook_secret', $4::text), now(), now())`,
      [t.workspaceId, MAILBOXES.subscribers, `${hooks.url}/amends`, SECRET],
    );
    const imported = await t.call("POST", "/api/v1/import/customers", [
      { id: "C1", home_region: "sondrio", email: MAILBOXES.customers },
    ]);
    expect(imported.status, JSON.stringify(imported.json)).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await Promise.all([smtp.stop(), mastodon.stop(), hooks.stop()]);
  });

  /** Which audiences got the event keyed `key`, as seen by the receivers. */
  const reached = (key: string) => {
    const got = new Set<Audience>();
    for (const [audience, address] of Object.entries(MAILBOXES) as [keyof typeof MAILBOXES, string][]) {
      const id = messageId(`${key}:${KEYED[audience]}`, DOMAIN);
      const mails = smtp.received.filter((m) => m.message.headers.get("message-id") === id);
      expect(mails.every((m) => m.to.includes(address))).toBe(true);
      if (mails.length) got.add(audience);
    }
    if ([...hooks.events.keys()].some((id) => id.startsWith(`${key}:subscriber:sub_hook:`)))
      got.add("webhooks");
    if (mastodon.requests.some((r) => String(r.headers["idempotency-key"]).startsWith(`${key}:social:`)))
      got.add("social");
    return got;
  };

  it("delivers every kind of event to exactly the audiences the table names", async () => {
    const kinds = Object.keys(EVENT_AUDIENCES);
    const now = new Date();
    for (const [i, kind] of kinds.entries()) {
      const direct = EVENT_AUDIENCES[kind]!.length === 1 && EVENT_AUDIENCES[kind]![0] === "customers";
      await t.database.query(
        `insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel, address,
                                      locale, template, payload, status, created_at)
         values ($1, $2, $3, $4, null, $5, $6, $7, 'en', $4, $8::jsonb, 'pending', $9)`,
        [
          t.workspaceId,
          `msg_walk_${i}`,
          `walk:${kind}`,
          kind,
          direct ? "C1" : null,
          direct ? "email" : null,
          direct ? MAILBOXES.customers : null,
          JSON.stringify({
            title: `Walk ${kind}`,
            incident_title: `Walk ${kind}`,
            components: ["tower"],
            starts_at: now.toISOString(),
            ends_at: new Date(now.getTime() + 3_600_000).toISOString(),
            next_update_by: now.toISOString(),
            window_start: now.toISOString(),
            window_end: now.toISOString(),
            lines: [],
          }),
          new Date(now.getTime() + i).toISOString(),
        ],
      );
    }
    await notifier.dispatch();
    const expected = kinds.flatMap((kind) => EVENT_AUDIENCES[kind]!.map((a) => `${kind} ${a}`)).sort();
    const seen = () =>
      kinds
        .flatMap((kind) => [...reached(`walk:${kind}`)].map((a) => `${kind} ${a}`))
        .sort()
        .join("\n");
    await until("every audience of every kind", () => seen() === expected.join("\n"), 40_000).catch(() => {});
    // Late strays would show here: nothing more arrives.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(seen()).toBe(expected.join("\n"));
    for (const kind of kinds)
      for (const audience of AUDIENCES)
        expect(reached(`walk:${kind}`).has(audience), `${kind} → ${audience}`).toBe(
          EVENT_AUDIENCES[kind]!.includes(audience),
        );
    // Each receiver got each message once.
    const ids = smtp.received.map((m) => m.message.headers.get("message-id"));
    expect(new Set(ids).size).toBe(ids.length);
    expect(mastodon.statuses.length).toBe(kinds.filter((k) => EVENT_AUDIENCES[k]!.includes("social")).length);
  }, 90_000);

  it("keeps the overdue-update reminder inside the team", async () => {
    const mailsBefore = smtp.received.length;
    const [postsBefore, hooksBefore] = [mastodon.statuses.length, hooks.events.size];
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-LATE",
      title: "No signal around the tower",
      body: "Engineers are on their way.",
      components: [{ id: "tower", status: "major_outage" }],
      next_update_by: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    await notifier.dispatch();
    await until("the opening at every receiver", () => mastodon.statuses.length > postsBefore);
    await until("the opening by webhook", () => hooks.events.size > hooksBefore);
    expect(await queueOverdueReminders(t.database, new Date(Date.now() + 120_000))).toBe(1);
    await notifier.dispatch();
    const overdue = () =>
      smtp.received
        .slice(mailsBefore)
        .filter((m) => /Overdue update/.test(m.message.headers.get("subject") ?? ""));
    await until("the team's reminder", () => overdue().length > 0);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(overdue().flatMap((m) => m.to)).toEqual([MAILBOXES.team]);
    expect(mastodon.statuses.filter((s) => /Overdue|Post one now/.test(s.status))).toEqual([]);
    expect([...hooks.events.values()].filter((p) => p.type === "incident.update_overdue")).toEqual([]);
    expect(
      smtp.received
        .slice(mailsBefore)
        .filter((m) => !m.to.includes(MAILBOXES.team))
        .filter((m) => /Post one now/.test(m.raw)),
    ).toEqual([]);
  }, 120_000);
});
