/**
 * EOLO, a fixed-wireless ISP: the power fails at the Sondrio tower. Customers on that tower are told
 * in their own language on their own channels (SMS too for those who bought the SMS add-on), the
 * team hears it, the public account posts it, and nobody on the Como tower hears anything. The SMS
 * cost shown before the send is what the provider then receives, segment for segment; the paid
 * part alone waits for a person's go-ahead. A reminder about a missed update stays with the team.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.ts";
import {
  expectCustomerWords,
  importCsv,
  ok,
  onePerRecipient,
  segmentsOf,
  startWorld,
  type World,
} from "./world.ts";

const INTERNAL = ["tower-sondrio", "tower-como", "sondrio-valley", "INC-EOLO", "cust_", "msg_", "upd_"];

describe.each(BACKENDS)("EOLO tower outage on %s", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld(backend);
    const { t } = w;
    await ok(t, "POST", "/api/v1/components", { id: "internet", name: "Internet access" });
    await ok(t, "POST", "/api/v1/components", {
      id: "tower-sondrio",
      name: "Sondrio",
      parent_id: "internet",
      region: "sondrio-valley",
    });
    await ok(t, "POST", "/api/v1/components", {
      id: "tower-como",
      name: "Como",
      parent_id: "internet",
      region: "como-lake",
    });
    await ok(t, "PUT", "/api/v1/notification-settings", {
      notify_affected_customers: true,
      public_url: "https://status.eolo.test",
      team: [{ channel: "email", address: "noc@eolo.test" }],
      sms: {
        entitlement_required: true,
        prices: { IT: { price: "0.0725", currency: "EUR" } },
        confirm_above: { amount: 1, currency: "EUR" },
        allowed_countries: ["IT"],
      },
    });
    await importCsv(
      t,
      "customers",
      [
        "id,name,home_region,plan,locale,email,phone,sms_entitled",
        "C1,Anna Rossi,sondrio-valley,residential,it,anna@example.it,+39 347 100 0001,yes",
        "C2,Marco Bianchi,sondrio-valley,residential,it,marco@example.it,,",
        "C3,Jonas Keller,sondrio-valley,residential,de,jonas@example.de,,",
        "C4,Lucia Verdi,como-lake,residential,it,lucia@example.it,+39 347 100 0004,yes",
        "C5,Paolo Neri,sondrio-valley,residential,it,,+39 347 100 0005,no",
      ].join("\n"),
    );
  }, 90_000);
  afterAll(async () => w?.close());

  const incident = {
    id: "INC-EOLO",
    title: "No connection around Sondrio",
    body: "A power cut at the tower; a generator is on its way.",
    translations: {
      it: {
        title: "Nessuna connessione nella zona di Sondrio",
        body: "Manca la corrente al ripetitore; un generatore è in arrivo.",
      },
      de: {
        title: "Keine Verbindung rund um Sondrio",
        body: "Stromausfall am Sendemast; ein Generator ist unterwegs.",
      },
    },
    components: [{ id: "tower-sondrio", status: "major_outage" }],
  };

  it("tells the tower's customers at once by e-mail, and by SMS those who paid for it once confirmed", async () => {
    await ok(w.t, "POST", "/api/v1/incidents", incident);
    // Free channels go at once, while the paid SMS waits for its go-ahead.
    const first = await w.settle();
    // The team hears of the incident, and separately that the SMS waits for its go-ahead.
    const team = first.filter((m) => m.to === "noc@eolo.test");
    expect(team.map((m) => m.subject).sort()).toEqual([
      "SMS waiting for your go-ahead: No connection around Sondrio",
      "The Fleet: No connection around Sondrio",
    ]);
    expect(team.find((m) => m.subject.startsWith("SMS waiting"))!.text).toMatch(/1 recipient/);
    const customers = onePerRecipient(first.filter((m) => m.to !== "noc@eolo.test"));
    expect([...customers.keys()].sort()).toEqual(
      ["email:anna@example.it", "email:jonas@example.de", "email:marco@example.it", "mastodon:public"].sort(),
    );
    const events = await ok(w.t, "GET", "/api/v1/notification-events");
    const opened = events.events.find((e: { event: string }) => e.event === "incident.opened");
    expect(opened.status).toBe("awaiting_confirmation");
    const estimate = opened.estimate;

    await ok(w.t, "POST", `/api/v1/notification-events/${opened.id}/confirm`);
    const all = onePerRecipient((await w.settle()).filter((m) => m.to !== "noc@eolo.test"));
    const sms = [...all.values()].filter((m) => m.channel === "sms");
    expect(sms.map((m) => m.to)).toEqual(["+393471000001"]);
    // What was estimated is what went out, segment for segment.
    expect(estimate.sms.messages).toBe(sms.length);
    expect(estimate.sms.segments).toBe(sms.reduce((n, m) => n + segmentsOf(m.text), 0));

    const anna = all.get("email:anna@example.it")!;
    expect(anna.lang).toBe("it");
    expect(anna.subject).toContain("Nessuna connessione nella zona di Sondrio");
    expect(anna.text).toContain("generatore");
    const jonas = all.get("email:jonas@example.de")!;
    expect(jonas.lang).toBe("de");
    expect(jonas.subject).toContain("Keine Verbindung rund um Sondrio");
    const annaSms = all.get("sms:+393471000001")!.text;
    expect(annaSms).toContain("Sondrio");
    // Its unsubscribe link is short (every character is paid for) and opens the usual page;
    // a link with a wrong signature opens nothing.
    const link = /https:\/\/status\.eolo\.test(\/u\/\S+)/.exec(annaSms)!;
    expect(link[0].length).toBeLessThanOrEqual(50);
    const followed = await w.t.app.inject({ method: "GET", url: link[1]! });
    expect(followed.statusCode).toBe(303);
    expect((await w.t.app.inject({ method: "GET", url: String(followed.headers.location) })).body).toContain(
      '<form method="post" action="/unsubscribe?t=',
    );
    const forged = `${link[1]!.slice(0, -1)}${link[1]!.endsWith("A") ? "B" : "A"}`;
    expect((await w.t.app.inject({ method: "GET", url: forged })).statusCode).toBe(400);
    for (const m of all.values()) if (m.to !== "noc@eolo.test") expectCustomerWords(m, INTERNAL);
  });

  it("keeps the reminder about a missed update with the team", async () => {
    const beforeUpdate = w.mark();
    await ok(w.t, "POST", "/api/v1/incidents/INC-EOLO/updates", {
      body: "The generator is connected; service is coming back.",
      translations: { it: { body: "Il generatore è collegato; il servizio sta tornando." } },
      status: "monitoring",
      next_update_by: new Date(Date.now() + 1_500).toISOString(),
    });
    await w.settle();
    const update = onePerRecipient(w.since(beforeUpdate).filter((m) => m.to !== "noc@eolo.test"));
    expect(update.size).toBeGreaterThan(0);
    const afterUpdate = w.mark();
    await new Promise((r) => setTimeout(r, 2_000));
    const { queueOverdueReminders } = await import("../../src/incidents/reminders.ts");
    expect(await queueOverdueReminders(w.t.database, new Date())).toBe(1);
    await w.settle();
    const reminder = w.since(afterUpdate);
    // Only the team hears it (the update's own go-ahead request may still be arriving there).
    expect(reminder.filter((m) => m.to !== "noc@eolo.test")).toEqual([]);
    expect(
      reminder.filter((m) => m.to === "noc@eolo.test" && !m.subject.startsWith("SMS waiting")),
    ).toHaveLength(1);
  });

  it("tells the Como tower's customers of planned work, in Italian, and when it overruns", async () => {
    const { tickMaintenance } = await import("../../src/maintenance/store.ts");
    const start = new Date(Date.now() + 60_000);
    const end = new Date(start.getTime() + 3_600_000);
    const mark = w.mark();
    await ok(w.t, "POST", "/api/v1/maintenances", {
      id: "MNT-COMO",
      title: "Antenna replacement at Como",
      body: "The connection may drop for a few minutes.",
      translations: {
        it: {
          title: "Sostituzione dell'antenna a Como",
          body: "La connessione può interrompersi per qualche minuto.",
        },
      },
      components: ["tower-como"],
      starts_at: start.toISOString(),
      ends_at: end.toISOString(),
      overrun_after: "PT15M",
    });
    await w.settle();
    const scheduled = w.since(mark).filter((m) => m.channel === "email" && m.to !== "noc@eolo.test");
    expect(scheduled.map((m) => m.to)).toEqual(["lucia@example.it"]);
    expect(scheduled[0]!.lang).toBe("it");
    expect(scheduled[0]!.subject).toContain("Sostituzione dell'antenna a Como");
    expectCustomerWords(scheduled[0]!, [...INTERNAL, "MNT-COMO"]);

    // The window starts, then runs past its end and its grace: an incident, told in the window's words.
    const mark2 = w.mark();
    await tickMaintenance(w.t.database, new Date(start.getTime() + 1_000));
    await tickMaintenance(w.t.database, new Date(end.getTime() + 16 * 60_000));
    await w.settle();
    const later = w.since(mark2).filter((m) => m.channel === "email" && m.to !== "noc@eolo.test");
    expect(
      later.every((m) => m.to === "lucia@example.it"),
      later.map((m) => m.to).join(),
    ).toBe(true);
    expect(later.length).toBeGreaterThanOrEqual(2); // started, overran
    for (const m of later) {
      expect(m.lang).toBe("it");
      expect(m.subject).toContain("Sostituzione dell'antenna a Como");
      expectCustomerWords(m, [...INTERNAL, "MNT-COMO", "planned until"]);
    }
    const noc = w.since(mark2).filter((m) => m.to === "noc@eolo.test");
    expect(noc.length).toBeGreaterThanOrEqual(2);
  });
});
