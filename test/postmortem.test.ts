import { describe, expect, it } from "vitest";
import { renderMessage } from "../src/notifications/templates.ts";
import { startTestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";

const POLICY = `policy: end-rental-refund
match: {session_kinds: [rental], components: [end-rental]}
rules:
  - {id: whole_rental, action: {refund: session_charge}}
`;

describe.each(BACKENDS)("post-incident report on %s", (backend) => {
  it("drafts the letter from the timeline and the figures, publishes it on a page and sends it once, in each customer's language", async () => {
    let clock = Date.parse("2026-12-01T08:00:00Z");
    const now = () => new Date(clock);
    const t = await startTestApp(backend, { now });
    try {
      await t.call("POST", "/api/v1/components", { id: "end-rental", name: "End rental" });
      for (const [id, region, name] of [
        ["end-rental-milan", "milan", "Milan"],
        ["end-rental-rome", "rome", "Rome"],
      ])
        await t.call("POST", "/api/v1/components", { id, name, parent_id: "end-rental", region });
      await t.call("POST", "/api/v1/import/customers", [
        { id: "C-1", locale: "it", email: "anna@example.com", home_region: "milan", currency: "EUR" },
        { id: "C-2", locale: "de", email: "jan@example.com", home_region: "rome", currency: "EUR" },
        { id: "C-3", locale: "en", home_region: "milan", currency: "EUR" },
      ]);
      const rental = (id: string, customer: string, component: string, region: string, charge: number) => ({
        id,
        customer_id: customer,
        kind: "rental",
        component_id: component,
        region,
        started_at: "2026-12-01T09:30:00Z",
        ended_at: "2026-12-01T11:30:00Z",
        charge,
        currency: "EUR",
      });
      const sessions = await t.call("POST", "/api/v1/import/sessions", [
        rental("S-1", "C-1", "end-rental-milan", "milan", 1_500),
        rental("S-2", "C-2", "end-rental-rome", "rome", 2_000),
        rental("S-3", "C-3", "end-rental-milan", "milan", 1_000),
      ]);
      expect(sessions.status, JSON.stringify(sessions.json)).toBeLessThan(300);
      await t.call("POST", "/api/v1/policies", { yaml: POLICY });

      clock = Date.parse("2026-12-01T10:00:00Z");
      await t.call("POST", "/api/v1/incidents", {
        id: "INC-7",
        title: "Rentals cannot be ended",
        body: "Leave the car parked; you will not pay for the extra time.",
        translations: {
          it: { title: "Non si possono chiudere i noleggi", body: "Lascia l'auto parcheggiata." },
        },
        components: [{ id: "end-rental", status: "major_outage" }],
      });
      expect((await t.call("POST", "/api/v1/incidents/INC-7/postmortem")).status).toBe(409); // not resolved
      clock = Date.parse("2026-12-01T11:00:00Z");
      await t.call("POST", "/api/v1/incidents/INC-7/updates", {
        status: "identified",
        body: "A database failover is under way.",
      });
      clock = Date.parse("2026-12-01T12:00:00Z");
      await t.call("POST", "/api/v1/incidents/INC-7/resolve");
      const run = await t.call("POST", "/api/v1/incidents/INC-7/compensation-runs", {
        policy: "end-rental-refund",
      });
      expect(run.status, JSON.stringify(run.json)).toBe(201);

      const draft = await t.call("POST", "/api/v1/incidents/INC-7/postmortem");
      expect(draft.status, JSON.stringify(draft.json)).toBe(201);
      expect(draft.json.status).toBe("draft");
      expect(draft.json.figures.cities).toEqual([
        { city: "milan", name: "Milan", customers: 2 },
        { city: "rome", name: "Rome", customers: 1 },
      ]);
      expect(draft.json.figures.compensation).toMatchObject({ money: { EUR: 4_500 }, customers: 3 });
      // Cities by their display names; times name their zone.
      expect(draft.json.sections.what_happened).toContain(
        "3 customers were affected: Milan (2) and Rome (1)",
      );
      expect(draft.json.sections.what_happened).toMatch(/from \d\d:\d\d \S+ to \d\d:\d\d \S+ \(2 h\)/);
      expect(draft.json.sections.what_we_did).toContain("A database failover is under way.");
      // The run waits for approval: the draft says it is being prepared, not that it is done.
      expect(draft.json.sections.what_now).toContain("We are preparing what we owe");
      expect(draft.json.sections.what_now).toContain("€45.00 for 3 customers");
      expect(draft.json.sections.what_now).not.toContain("done");
      expect(draft.json.translations.it.what_now).not.toContain("già fatto");
      expect(draft.json.sections.what_now).toContain("You do not need to claim anything");
      expect(draft.json.translations.it.what_happened).toContain("Non si possono chiudere i noleggi");
      expect(draft.json.translations.it.what_now).toContain("Non devi chiedere nulla");
      expect(draft.json.translations.de.what_now).toContain("45,00");

      // What changes is the operator's to write; publishing without it names the field.
      const early = await t.call("POST", "/api/v1/incidents/INC-7/postmortem/publish");
      expect(early.status).toBe(400);
      expect(early.json.errors[0].field).toBe("sections.what_we_change");
      const edited = await t.call("PATCH", "/api/v1/incidents/INC-7/postmortem", {
        sections: {
          what_we_change: "The end-rental service now fails over to a second database in 30 seconds.",
        },
        translations: {
          it: { what_we_change: "Ora il servizio passa a un secondo database in 30 secondi." },
        },
      });
      expect(edited.status, JSON.stringify(edited.json)).toBe(200);

      // Applied before the letter goes out: the letter sent says so, from the data at that time.
      expect((await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/approve`)).status).toBe(200);
      expect((await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/apply`)).status).toBe(200);
      const published = await t.call("POST", "/api/v1/incidents/INC-7/postmortem/publish");
      expect(published.status, JSON.stringify(published.json)).toBe(200);
      expect(published.json.sections.what_now).toContain("it is already done");
      expect(published.json.translations.it.what_now).toContain("è già fatto");
      expect(published.json.sections.what_we_change).toContain("fails over to a second database");
      expect(published.json.messages_queued).toBe(2); // C-3 has no channel
      expect((await t.call("POST", "/api/v1/incidents/INC-7/postmortem/publish")).json.messages_queued).toBe(
        0,
      );
      expect((await t.call("POST", "/api/v1/incidents/INC-7/postmortem")).status).toBe(409);

      const messages = await t.database.query<{
        customer_id: string;
        locale: string;
        payload: any;
        event: string;
      }>(
        "select customer_id, locale, payload, event from outbox_messages where event = 'postmortem.published' order by customer_id",
      );
      expect(messages.map((m) => [m.customer_id, m.locale])).toEqual([
        ["C-1", "it"],
        ["C-2", "de"],
      ]);
      const italian = renderMessage(messages[0]!.event, messages[0]!.payload, "it", {
        company: "The Fleet",
        timeZone: "Europe/Rome",
        fallbackLocale: "en",
        url: "https://status.example.com/incidents/INC-7/report",
      });
      expect(italian.subject).toContain("Non si possono chiudere i noleggi");
      expect(italian.text).toContain("Ora il servizio passa a un secondo database");
      expect(italian.text).toContain("Non devi chiedere nulla");
      expect(messages[0]!.payload.page_path).toBe("/incidents/INC-7/report");

      // One public page per incident, linked from the incident, in the reader's language.
      clock += 20_000;
      const page = await t.app.inject("/it/incidents/INC-7/report");
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("Cosa cambiamo");
      expect(page.body).toContain("Ora il servizio passa a un secondo database in 30 secondi.");
      expect((await t.app.inject("/incidents/INC-7")).body).toContain('href="/incidents/INC-7/report"');
      expect((await t.app.inject("/incidents/NOPE/report")).statusCode).toBe(404);
    } finally {
      await t.close();
    }
  }, 120_000);
});
