/**
 * An SMS provider outage (500s and timeouts, OUTAGE_MS long: 20 s here, 300000 for the issue's
 * five minutes) during a send: messages fail over to the second provider when there is one, and
 * otherwise retry with backoff until the provider recovers; every message arrives once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createComponent } from "../../src/components/store.ts";
import { createIncident } from "../../src/incidents/store.ts";
import { httpSmsSender } from "../../src/notifications/channels/http-sms.ts";
import { twilioSender } from "../../src/notifications/channels/twilio.ts";
import { startNotifier } from "../../src/notifications/notifier.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";
import { HttpSmsFake } from "../support/fakes/http-sms.ts";
import { TwilioFake } from "../support/fakes/twilio.ts";
import { until } from "../support/until.ts";

const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 20_000);
const PEOPLE = 20;

describe("SMS provider outage", () => {
  const twilio = new TwilioFake();
  const gateway = new HttpSmsFake("gw-token");
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let ws: string;
  const twilioSms = () =>
    twilioSender({
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      from: "+15005550006",
      apiBase: twilio.url,
      timeoutMs: 1_000,
    });

  beforeAll(async () => {
    await Promise.all([twilio.start(), gateway.start()]);
    database = await freshDatabase("postgres");
    ws = (await createWorkspace(database.db, { slug: "outage", name: "Outage" })).id;
    await createComponent(database.db, ws, { id: "charging", name: "Charging" }, new Date());
    await database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, confirmed_at, created_at)
       select $1, 'sub_' || i, 'sms', '+39347123' || (4500 + i), 'en', now(), now() from generate_series(1, $2::int) i`,
      [ws, PEOPLE],
    );
  });
  afterAll(async () => {
    await database?.close();
    await Promise.all([twilio.stop(), gateway.stop()]);
  });

  const open = (id: string) =>
    createIncident(
      database.db,
      ws,
      {
        id,
        title: "Charging app down",
        update: { body: "Investigating", components: [{ componentId: "charging", status: "major_outage" }] },
      },
      new Date(),
    );
  const sentFor = async (incident: string) =>
    (
      await database.query<{ n: number; attempts: number }>(
        `select count(*)::int as n, coalesce(sum(attempts), 0)::int as attempts from deliveries d
           join outbox_messages o on o.workspace_id = d.workspace_id and o.id = d.event_id
          where o.incident_id = $1 and d.status = 'sent'`,
        [incident],
      )
    )[0]!;

  const outage = () => {
    const end = Date.now() + OUTAGE_MS;
    twilio.schedule = (_req, i) => (Date.now() < end ? (i % 2 ? "timeout" : 500) : undefined);
  };

  it("fails over to the second provider at once", async () => {
    const notifier = await startNotifier(database, {
      channels: { sms: [twilioSms(), httpSmsSender({ url: `${gateway.url}/messages`, token: "gw-token" })] },
    });
    try {
      outage();
      await open("INC-FAILOVER");
      await until(
        "every message through the second provider",
        async () => (await sentFor("INC-FAILOVER")).n === PEOPLE,
        OUTAGE_MS,
      );
      expect(gateway.messages).toHaveLength(PEOPLE);
      expect(new Set(gateway.messages.map((m) => m.idempotencyKey)).size).toBe(PEOPLE);
      expect(twilio.messages).toHaveLength(0);
    } finally {
      await notifier.stop();
      twilio.recover();
    }
  }, 120_000);

  it("with one provider, retries with backoff until it recovers; each message arrives once", async () => {
    const notifier = await startNotifier(database, { channels: { sms: [twilioSms()] } });
    try {
      outage();
      const started = Date.now();
      await open("INC-RETRY");
      await until(
        "every message after recovery",
        async () => (await sentFor("INC-RETRY")).n === PEOPLE,
        OUTAGE_MS * 3 + 60_000,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(OUTAGE_MS - 1_000);
      expect(twilio.messages).toHaveLength(PEOPLE);
      expect(new Set(twilio.messages.map((m) => m.to)).size).toBe(PEOPLE);
      // Every message was tried and failed during the outage; each failure is recorded on its row.
      expect((await sentFor("INC-RETRY")).attempts).toBeGreaterThan(PEOPLE);
      const failed = twilio.requests.filter((r) => r.outcome === 500 || r.outcome === "timeout").length;
      expect(failed).toBeGreaterThanOrEqual(PEOPLE);
    } finally {
      await notifier.stop();
    }
  }, 600_000);
});
