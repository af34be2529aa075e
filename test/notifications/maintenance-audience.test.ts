/**
 * Planned work tells the people it touches, at the receivers (a real SMTP server): every step of
 * a window (scheduled, reminder, started, overran, completed by hand) reaches the subscribers of
 * its components, the customers on them (the workspace tells affected customers) and the team,
 * once each; nobody else. The overrun's incident says nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tickMaintenance } from "../../src/maintenance/store.ts";
import { smtpSender } from "../../src/notifications/channels/email.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { decodeWords, SmtpFake } from "../support/fakes/smtp.ts";
import { until } from "../support/until.ts";

const TOLD = ["c-sondrio@example.com", "ops@eolo.test", "sub-tower@example.com"];
const NOT_TOLD = ["c-milano@example.com", "sub-other@example.com"];

describe.each(BACKENDS)("maintenance audiences on %s", (backend) => {
  let t: TestApp;
  const smtp = new SmtpFake();
  let notifier: Notifier;
  let clock = Date.parse("2026-12-04T08:00:00Z");
  const now = () => new Date(clock);

  beforeAll(async () => {
    await smtp.start();
    const channels = { email: [smtpSender({ url: smtp.url, from: "EOLO <stato@eolo.test>" })] };
    t = await startTestApp(backend, { channels, now });
    notifier = await startNotifier(t.database, { channels });
    for (const c of [
      { id: "tower-sondrio", name: "Torre Sondrio", region: "sondrio" },
      { id: "tower-milano", name: "Torre Milano", region: "milano" },
    ])
      expect((await t.call("POST", "/api/v1/components", c)).status).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "https://stato.eolo.test",
      notify_affected_customers: true,
      team: [{ channel: "email", address: "ops@eolo.test" }],
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
    await t.database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, components, confirmed_at, created_at)
       values ($1, 'sub_tower', 'email', 'sub-tower@example.com', 'it', '{tower-sondrio}', now(), now()),
              ($1, 'sub_other', 'email', 'sub-other@example.com', 'it', '{tower-milano}', now(), now())`,
      [t.workspaceId],
    );
    const imported = await t.call("POST", "/api/v1/import/customers", [
      { id: "C-SO", home_region: "sondrio", locale: "it", email: "c-sondrio@example.com" },
      { id: "C-MI", home_region: "milano", locale: "it", email: "c-milano@example.com" },
    ]);
    expect(imported.status, JSON.stringify(imported.json)).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await smtp.stop();
  });

  /** Mails per address whose subject names the window. */
  const told = () => {
    const per: Record<string, number> = {};
    for (const m of smtp.received)
      if (
        /Sostituzione antenna|Antenna replacement/.test(decodeWords(m.message.headers.get("subject") ?? ""))
      )
        for (const to of m.to) per[to] = (per[to] ?? 0) + 1;
    return per;
  };
  const step = async (n: number) => {
    await notifier.dispatch();
    await until(`step ${n} everywhere`, () => TOLD.every((a) => (told()[a] ?? 0) >= n));
  };

  it("tells subscribers, affected customers and the team at every step, once", async () => {
    const created = await t.call("POST", "/api/v1/maintenances", {
      id: "MNT-SONDRIO",
      title: "Antenna replacement at the Sondrio tower",
      body: "No service while the antenna is replaced.",
      translations: { it: { title: "Sostituzione antenna alla torre di Sondrio" } },
      components: ["tower-sondrio"],
      starts_at: "2026-12-05T02:00:00Z",
      ends_at: "2026-12-05T04:00:00Z",
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    await step(1); // scheduled
    clock = Date.parse("2026-12-05T01:10:00Z");
    await tickMaintenance(t.database, now());
    await step(2); // reminder
    clock = Date.parse("2026-12-05T02:00:00Z");
    await tickMaintenance(t.database, now());
    await step(3); // started
    clock = Date.parse("2026-12-05T04:20:00Z");
    await tickMaintenance(t.database, now());
    await step(4); // overran: an outage now
    const overrun = (await t.call("GET", "/api/v1/maintenances/MNT-SONDRIO")).json;
    expect(overrun.status).toBe("overran");
    expect(overrun.overrun_incident_id).toBeTruthy();
    clock = Date.parse("2026-12-05T05:00:00Z");
    expect((await t.call("POST", "/api/v1/maintenances/MNT-SONDRIO/complete")).status).toBe(200);
    await step(5); // completed by hand
    await new Promise((r) => setTimeout(r, 1_500));
    const per = told();
    expect(Object.fromEntries(TOLD.map((a) => [a, per[a]]))).toEqual(
      Object.fromEntries(TOLD.map((a) => [a, 5])),
    );
    for (const a of NOT_TOLD) expect(per[a] ?? 0, a).toBe(0);
    // Italian readers read the window's Italian title.
    const sub = smtp.received.filter((m) => m.to.includes("sub-tower@example.com"));
    expect(sub.map((m) => decodeWords(m.message.headers.get("subject") ?? "")).join("\n")).not.toContain(
      "Antenna replacement",
    );
  }, 120_000);
});
