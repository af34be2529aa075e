import { describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";

const POLICY = `policy: end-rental-refund
match: {session_kinds: [rental], components: [end-rental]}
rules:
  - {id: whole_rental, action: {refund: session_charge}}
`;

async function setUp(t: TestApp) {
  await t.call("POST", "/api/v1/components", { id: "end-rental", name: "End rental" });
  await t.call("POST", "/api/v1/components", {
    id: "end-rental-milan",
    name: "Milan",
    parent_id: "end-rental",
    region: "milan",
  });
  await t.call("POST", "/api/v1/components", { id: "payments", name: "Payments" });
  const imported = await t.call("POST", "/api/v1/import/customers", [
    { id: "C-1", locale: "it", email: "anna@example.com", currency: "EUR" },
  ]);
  expect(imported.status, JSON.stringify(imported.json)).toBeLessThan(300);
  const saved = await t.call("POST", "/api/v1/policies", { yaml: POLICY });
  expect(saved.status, JSON.stringify(saved.json)).toBe(201);
  await t.call("PUT", "/api/v1/notification-settings", {
    team: [{ channel: "email", address: "ops@example.com" }],
    reports: { threshold: 3, window_minutes: 10 },
  });
}

/** The page's form, as a browser would post it: the hidden fields come from the page itself. */
async function postForm(t: TestApp, page: string, fields: Record<string, string>, ip = "10.0.0.1") {
  const hidden = Object.fromEntries(
    [...page.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!]),
  );
  return t.app.inject({
    method: "POST",
    url: "/report",
    remoteAddress: ip,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({ ...hidden, ...fields }).toString(),
  });
}

describe.each(BACKENDS)("I am affected (%s)", (backend) => {
  it("acknowledges in the reader's language, links the open incident, promises no claim, feeds the review", async () => {
    let clock = Date.parse("2026-12-01T10:00:00Z");
    const now = () => new Date(clock);
    const t = await startTestApp(backend, { now });
    try {
      await setUp(t);
      const opened = await t.call("POST", "/api/v1/incidents", {
        id: "INC-1",
        title: "Rentals cannot be ended",
        body: "Leave the car parked.",
        translations: { it: { title: "Non si possono chiudere i noleggi" } },
        components: [{ id: "end-rental", status: "major_outage" }],
      });
      expect(opened.status, JSON.stringify(opened.json)).toBe(201);

      // The plain form on the Italian page, no JavaScript: posted a while after the page was shown.
      const page = (await t.app.inject("/it/")).body;
      expect(page).toContain('action="/report"');
      expect(page).toContain("Hai un problema? Diccelo");
      clock += 20_000;
      const res = await postForm(t, page, {
        component: "end-rental-milan",
        city: "milan",
        contact: "anna@example.com",
        text: "La macchina non si chiude in via Tortona",
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.body).toContain("Grazie: abbiamo ricevuto la tua segnalazione.");
      expect(res.body).toContain("Non si possono chiudere i noleggi");
      expect(res.body).toContain("Non devi chiedere nulla");
      expect(res.body).toContain('href="/it/incidents/INC-1"');

      // The public API answers the same, in the language asked for.
      clock += 1_000;
      const api = await t.app.inject({
        method: "POST",
        url: "/api/v1/public/reports",
        remoteAddress: "10.0.0.2",
        headers: { "accept-language": "de-DE,de;q=0.9" },
        payload: { component: "end-rental", contact: "C-1" },
      });
      expect(api.statusCode, api.body).toBe(201);
      expect(api.json()).toMatchObject({
        status: "received",
        locale: "de",
        incident: { id: "INC-1", url: "http://localhost:80/de/incidents/INC-1" },
        no_claim_needed: true,
        acknowledgement_sent_to: null,
      });
      expect(api.json().message).toContain("Sie müssen nichts beantragen");

      // The e-mail acknowledgement waits in the outbox, once, in Italian, for the known customer.
      const acks = await t.database.query<{
        customer_id: string;
        address: string;
        locale: string;
        payload: any;
      }>("select customer_id, address, locale, payload from outbox_messages where event = 'report.received'");
      expect(acks).toHaveLength(1);
      expect(acks[0]).toMatchObject({
        customer_id: "C-1",
        address: "anna@example.com",
        locale: "it",
        payload: { incident_id: "INC-1", linked: true, no_claim_needed: true },
      });

      // Operators see both reports, linked to the incident and to the customer.
      const listed = await t.call("GET", "/api/v1/reports?incident=INC-1");
      expect(listed.json.reports.map((r: any) => [r.component, r.customer_id, r.city])).toEqual([
        ["end-rental", "C-1", null],
        ["end-rental-milan", "C-1", "milan"],
      ]);

      // After resolution, a compensation run's review queue lists the reporters.
      clock += 3_600_000;
      await t.call("POST", "/api/v1/incidents/INC-1/resolve");
      const run = await t.call("POST", "/api/v1/incidents/INC-1/compensation-runs", {
        policy: "end-rental-refund",
      });
      expect(run.status, JSON.stringify(run.json)).toBe(201);
      const preview = await t.call("GET", `/api/v1/compensation-runs/${run.json.id}/preview`);
      const review = preview.json.review.filter((r: any) => r.reason === "reported_affected");
      expect(review).toHaveLength(2);
      expect(review[0]).toMatchObject({ customer_id: "C-1" });
      expect(review.map((r: any) => r.detail).join("\n")).toContain("via Tortona");
    } finally {
      await t.close();
    }
  });

  it("alerts the team once per burst when reports come in on a component without an incident", async () => {
    let clock = Date.parse("2026-12-01T10:00:00Z");
    const now = () => new Date(clock);
    const t = await startTestApp(backend, { now });
    const report = (ip: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/public/reports",
        remoteAddress: ip,
        payload: { component: "payments", text: "card declined", locale: "en" },
      });
    const alerts = async () =>
      t.database.query<{ payload: any; channel: string }>(
        "select payload, channel from outbox_messages where event = 'reports.threshold' order by created_at",
      );
    try {
      await setUp(t);
      for (let i = 1; i <= 2; i++) {
        const r = await report(`10.1.0.${i}`);
        expect(r.statusCode, r.body).toBe(201);
        expect(r.json()).toMatchObject({ incident: null, no_claim_needed: false });
        expect(r.json().message).toContain("we have passed your report to our team");
        clock += 60_000;
      }
      expect(await alerts()).toHaveLength(0);
      for (let i = 3; i <= 8; i++) {
        await report(`10.1.0.${i}`);
        clock += 30_000;
      }
      const burst = await alerts();
      expect(burst).toHaveLength(1); // the third report alerted; the rest of the burst did not
      expect(burst[0]).toMatchObject({ channel: "team", payload: { component_id: "payments", count: 3 } });

      // A new burst after the window: a second alert.
      clock += 11 * 60_000;
      for (let i = 9; i <= 11; i++) await report(`10.1.0.${i}`);
      expect(await alerts()).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  it("refuses bots and floods without a captcha", async () => {
    let clock = Date.parse("2026-12-01T10:00:00Z");
    const now = () => new Date(clock);
    const t = await startTestApp(backend, { now });
    const count = async () =>
      (await t.database.query<{ n: number }>("select count(*)::int as n from affected_reports"))[0]!.n;
    try {
      await setUp(t);
      const page = (await t.app.inject("/")).body;
      // Posted the instant the page was rendered: no person types that fast.
      expect((await postForm(t, page, { component: "payments" })).statusCode).toBe(400);
      clock += 10_000;
      // A filled honeypot is thanked and dropped.
      const bot = await postForm(
        t,
        page,
        { component: "payments", website: "http://spam.example" },
        "10.2.0.1",
      );
      expect(bot.statusCode).toBe(200);
      // A forged form time.
      const forged = await postForm(t, page.replace(/name="ft" value="(\d+)\./, 'name="ft" value="1$1.'), {
        component: "payments",
      });
      expect(forged.statusCode).toBe(400);
      expect(await count()).toBe(0);
      // Unknown component: a 400 naming the field, nothing written.
      const unknown = await t.app.inject({
        method: "POST",
        url: "/api/v1/public/reports",
        remoteAddress: "10.3.0.1",
        payload: { component: "nope" },
      });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().errors[0].field).toBe("component");
      const tooLong = await t.app.inject({
        method: "POST",
        url: "/api/v1/public/reports",
        remoteAddress: "10.3.0.2",
        payload: { component: "payments", text: "x".repeat(2_001) },
      });
      expect(tooLong.statusCode).toBe(400);
      // Per contact: three an hour, whatever the address they come from.
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push(
          (
            await t.app.inject({
              method: "POST",
              url: "/api/v1/public/reports",
              remoteAddress: `10.4.0.${i}`,
              payload: { component: "payments", contact: "Same@Example.com" },
            })
          ).statusCode,
        );
      expect(statuses).toEqual([201, 201, 201, 429]);
      // Per IP: ten in ten minutes.
      const fromOne = [];
      for (let i = 0; i < 11; i++)
        fromOne.push(
          (
            await t.app.inject({
              method: "POST",
              url: "/api/v1/public/reports",
              remoteAddress: "10.5.0.1",
              payload: { component: "payments" },
            })
          ).statusCode,
        );
      expect(fromOne.filter((s) => s === 429)).toHaveLength(1);
      expect(await count()).toBe(13);
    } finally {
      await t.close();
    }
  });
});
