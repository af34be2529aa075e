/**
 * Affected customers from the company's own data: by home region and by plan (a plan that
 * depends on the failed component), each on the first of their channels that may carry the
 * message, with SMS only for those who bought the add-on when SMS is paid.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { importCsv, startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { type ChannelFakes, startChannelFakes } from "../support/channels.ts";
import type { SmtpFake } from "../support/fakes/smtp.ts";
import type { TwilioFake } from "../support/fakes/twilio.ts";
import { until } from "../support/until.ts";

describe.each(BACKENDS)("affected customers on %s", (backend) => {
  let t: TestApp;
  let smtp: SmtpFake;
  let twilio: TwilioFake;
  let fakes: ChannelFakes;
  let notifier: Notifier;

  beforeAll(async () => {
    fakes = await startChannelFakes({ from: "ISP <status@isp.test>" });
    ({ smtp, twilio } = fakes);
    t = await startTestApp(backend, { channels: fakes.channels });
    notifier = await startNotifier(t.database, { channels: fakes.channels });
    for (const c of [
      { id: "api", name: "Business API" },
      { id: "tower-7", name: "Tower 7", region: "north-valley" },
    ])
      expect((await t.call("POST", "/api/v1/components", c)).status).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      notify_affected_customers: true,
      plan_components: { business: ["api"] },
      sms: { entitlement_required: true },
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
    const csv = [
      "id,home_region,plan,locale,email,phone,sms_entitled",
      "B1,south,business,en,b1@example.com,,",
      "R1,south,residential,en,r1@example.com,,",
      "N2,north-valley,residential,en,,+39 347 000 0002,yes",
      "N3,north-valley,residential,en,,+39 347 000 0003,false",
    ].join("\n");
    await importCsv(t, "customers", csv);
    const n1 = await t.call("POST", "/api/v1/import/customers", [
      {
        id: "N1",
        home_region: "north-valley",
        plan: "residential",
        channels: [
          { type: "sms", address: "+39 347 000 0001" },
          { type: "email", address: "n1@example.com" },
        ],
      },
    ]);
    // N1 prefers SMS but has not paid for it: e-mail instead.
    expect(n1.status, JSON.stringify(n1.json)).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await fakes?.stop();
  });

  const emailed = () => smtp.received.flatMap((m) => m.to).sort();
  const texted = () => twilio.messages.map((m) => m.to).sort();

  it("tells a plan's customers when the component their plan depends on fails", async () => {
    const estimate = await t.call("POST", "/api/v1/notification-estimate", { components: ["api"] });
    expect(estimate.status, JSON.stringify(estimate.json)).toBe(200);
    expect(estimate.json.recipients.email).toBe(1);
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-API",
      title: "The business API is down",
      body: "We are on it.",
      components: [{ id: "api", status: "major_outage" }],
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    await notifier.dispatch();
    await until("B1 to be told", () => emailed().includes("b1@example.com"));
    expect(emailed()).toEqual(["b1@example.com"]);
  });

  it("sends SMS only to those entitled, falling back to their next channel", async () => {
    const before = smtp.received.length;
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-TOWER",
      title: "No signal around tower 7",
      body: "A power cut; engineers are on site.",
      components: [{ id: "tower-7", status: "major_outage" }],
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    await notifier.dispatch();
    await until("N1 by e-mail and N2 by SMS", () => smtp.received.length > before && texted().length > 0);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(smtp.received.slice(before).flatMap((m) => m.to)).toEqual(["n1@example.com"]);
    expect(texted()).toEqual(["+393470000002"]); // N3 has only an SMS number and no add-on
  });

  it("reads the add-on flag from CSV and names the field when it is not a yes or no", async () => {
    const bad = await t.app.inject({
      method: "POST",
      url: "/api/v1/import/customers",
      payload: "id,sms_entitled\nX1,maybe\n",
      headers: { authorization: `Bearer ${t.token}`, "content-type": "text/csv" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain("sms_entitled");
  });
});
