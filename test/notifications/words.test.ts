/**
 * What people read, proved at the receiving SMTP server: the texts Amends writes itself (a
 * monitor's incident and its automatic resolution, a maintenance that overruns) reach an Italian
 * reader in Italian, subject and body, with no monitor name, no id, no ISO timestamp, and times
 * that name their zone (the recipient's own when they gave one); the make-good message of car2go's
 * 2014 double charge states each credit's terms and one total per currency.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DAMPING } from "../../src/core/monitors.ts";
import { tickMaintenance } from "../../src/maintenance/store.ts";
import { evaluateMonitor } from "../../src/monitors/engine.ts";
import { smtpSender } from "../../src/notifications/channels/email.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { decodeWords, leaves, type ReceivedMail, SmtpFake } from "../support/fakes/smtp.ts";
import { until } from "../support/until.ts";

const textOf = (m: ReceivedMail) =>
  leaves(m.message)
    .filter((p) => (p.headers.get("content-type") ?? "").startsWith("text/plain"))
    .map((p) => p.body)
    .join("\n")
    .replace(/\u00a0|\u202f/g, " ");
const subjectOf = (m: ReceivedMail) => decodeWords(m.message.headers.get("subject") ?? "");
const ISO = /\d{4}-\d{2}-\d{2}T/;

describe.each(BACKENDS)("customer words at the receiver on %s", (backend) => {
  let clock = Date.parse("2026-12-04T10:00:00Z");
  const now = () => new Date(clock);
  let t: TestApp;
  let smtp: SmtpFake;
  let notifier: Notifier;
  const mailTo = (address: string, subject: RegExp) =>
    smtp.received.filter((m) => m.to.includes(address) && subject.test(subjectOf(m)));
  const one = async (address: string, subject: RegExp) => {
    await notifier.dispatch();
    await until(
      `mail to ${address} about ${subject}`,
      async () => mailTo(address, subject).length > 0,
      30_000,
    );
    const got = mailTo(address, subject);
    expect(got, got.map(subjectOf).join(" | ")).toHaveLength(1);
    return { subject: subjectOf(got[0]!), text: textOf(got[0]!) };
  };

  beforeAll(async () => {
    smtp = await new SmtpFake().start();
    const channels = { email: [smtpSender({ url: smtp.url, from: "The Fleet <status@fleet.test>" })] };
    t = await startTestApp(backend, { channels, now });
    notifier = await startNotifier(t.database, { channels, now });
    for (const c of [
      { id: "app", name: "App" },
      { id: "app-milan", name: "Milan", parent_id: "app", region: "milan" },
      { id: "app-berlin", name: "Berlin", parent_id: "app", region: "berlin" },
      { id: "app-hamburg", name: "Hamburg", parent_id: "app", region: "hamburg" },
    ])
      expect((await t.call("POST", "/api/v1/components", c)).status).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "http://status.fleet.test",
      notify_affected_customers: true,
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await smtp?.stop();
  });

  it("a monitor's incident and its automatic resolution: Italian words, no monitor, the time with its zone", async () => {
    await t.call("POST", "/api/v1/import/customers", [
      { id: "C-IT", locale: "it", email: "giulia@example.it", home_region: "milan", currency: "EUR" },
    ]);
    const created = await t.call("POST", "/api/v1/monitors", {
      id: "chk-app-milan",
      name: "probe-7 app-milan k8s ingress",
      kind: "heartbeat",
      componentIds: ["app-milan"],
      intervalSeconds: 60,
      confirm: { consecutive: 2 },
      onFailure: "open_incident",
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const results = (ok: boolean, n: number) =>
      t.database.query(
        `insert into monitor_results (workspace_id, monitor_id, at, location, ok, error)
         select $1, 'chk-app-milan', $2::timestamptz + make_interval(secs => g), 'local', $3, $4
           from generate_series(1, $5) g`,
        [t.workspaceId, now().toISOString(), ok, ok ? null : "no heartbeat for 120 s", n],
      );
    const options = { now, damping: DEFAULT_DAMPING, social: [] };
    await results(false, 2);
    clock += 5_000;
    expect(await evaluateMonitor(t.database, t.workspaceId, "chk-app-milan", options)).toBe("down");

    const opened = await one("giulia@example.it", /Problemi con App › Milan$/);
    expect(opened.text).toContain("Abbiamo rilevato un problema con App › Milan");

    await results(true, 2);
    clock += 5_000;
    await evaluateMonitor(t.database, t.workspaceId, "chk-app-milan", options);
    clock += DEFAULT_DAMPING.recoveryQuietMs + 5_000;
    await results(true, 1);
    clock += 2_000;
    expect(await evaluateMonitor(t.database, t.workspaceId, "chk-app-milan", options)).toBe("recovered");

    const resolved = await one("giulia@example.it", /risolto/);
    expect(resolved.subject).toBe("The Fleet risolto: Problemi con App › Milan");
    expect(resolved.text).toContain("App › Milan funziona di nuovo normalmente");
    expect(resolved.text).toMatch(/Risolto: 4 dic 2026, 11:\d\d CET\./);
    for (const m of [opened, resolved]) {
      // The words, not the links: a random id in a URL may spell "k8s".
      const words = `${m.subject}\n${m.text.replace(/https?:\/\/\S+/g, "")}`;
      expect(words).not.toMatch(/probe|k8s|monitor|chk-app-milan|app-milan\b|checks/i);
      expect(m.text).not.toMatch(ISO);
      expect(m.text).not.toMatch(/passed|resolved automatically|investigating/);
    }
    // The team keeps the detail, on the update only it can read.
    const incident = (await t.call("GET", "/api/v1/incidents?state=all")).json.incidents[0];
    expect(incident.updates.at(-1).team_note).toMatch(/probe-7 app-milan k8s ingress/);
  }, 120_000);

  it("an operator's resolve without words of its own closes in the customer's language", async () => {
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-SLOW",
      title: "Slow app in Milan",
      translations: { it: { title: "App lenta a Milano" } },
      body: "We are looking into it.",
      components: [{ id: "app-milan", status: "degraded_performance" }],
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    expect((await t.call("POST", "/api/v1/incidents/INC-SLOW/resolve")).status).toBe(200);
    const closed = await one("giulia@example.it", /risolto: App lenta a Milano/);
    expect(closed.text).toContain("Tutto funziona di nuovo normalmente");
    expect(closed.text).not.toMatch(/has been resolved|working normally/);
  });

  it("a maintenance that overruns: Italian subject and body, the end in the subscriber's own zone", async () => {
    const sub = await t.call("POST", "/api/v1/public/subscriptions", {
      channel: "email",
      address: "marco@example.it",
      locale: "it",
      components: ["app-milan"],
      quiet_hours: { start: "03:00", end: "03:05", time_zone: "America/New_York" },
    });
    expect(sub.status, JSON.stringify(sub.json)).toBe(202);
    const link = /confirm\?t=(\S+)/.exec(
      textOf(smtp.received.filter((m) => m.to.includes("marco@example.it")).at(-1)!),
    )![1]!;
    const confirmed = await t.app.inject({
      method: "POST",
      url: "/subscriptions/confirm",
      payload: `t=${link}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(confirmed.statusCode).toBe(200);

    clock = Date.parse("2026-12-04T12:00:00Z");
    const m = await t.call("POST", "/api/v1/maintenances", {
      id: "MNT-OVR",
      title: "Database upgrade",
      body: "The app may be slow.",
      translations: { it: { title: "Aggiornamento del database", body: "L'app potrebbe essere lenta." } },
      components: ["app-milan"],
      starts_at: "2026-12-04T13:00:00Z",
      ends_at: "2026-12-04T15:00:35Z",
    });
    expect(m.status, JSON.stringify(m.json)).toBe(201);
    for (const at of ["2026-12-04T13:00:01Z", "2026-12-04T15:20:00Z"]) {
      clock = Date.parse(at);
      await tickMaintenance(t.database, now());
    }
    const late = await one("marco@example.it", /in ritardo/);
    expect(late.subject).toBe("The Fleet la manutenzione è in ritardo: Aggiornamento del database");
    // 15:00:35 UTC is 10:00 in New York, the subscriber's zone, and the zone is named.
    expect(late.text).toContain("La manutenzione prevista fino al 4 dic 2026, 10:00 ");
    expect(late.text).toMatch(/10:00 (EST|GMT-5)/);
    expect(late.text).not.toMatch(ISO);
    expect(late.text).not.toMatch(/MNT-OVR|app-milan\b|planned until|running late/);
    // The incident it opened reads in Italian on the page, its end time named, never ISO.
    const overrun = (await t.call("GET", "/api/v1/maintenances/MNT-OVR")).json.overrun_incident_id;
    const incident = (await t.call("GET", `/api/v1/incidents/${overrun}`)).json;
    expect(incident.title_translations.it).toBe("Manutenzione in ritardo: Aggiornamento del database");
    expect(incident.updates[0].body_translations.it).toContain("prevista fino al 4 dic 2026, 16:00 CET");
    for (const text of [
      incident.title,
      incident.updates[0].body,
      ...Object.values(incident.updates[0].body_translations),
    ])
      expect(text).not.toMatch(ISO);
  }, 120_000);

  it("car2go 2014: the make-good message states each credit's terms and one total per currency", async () => {
    clock = Date.parse("2014-11-14T09:00:00Z");
    await t.call("POST", "/api/v1/import/customers", [
      { id: "K1", locale: "it", email: "k1@example.de", home_region: "berlin", currency: "EUR" },
      { id: "K2", locale: "it", email: "k2@example.de", home_region: "hamburg", currency: "EUR" },
    ]);
    const charge = (id: string, customer: string, ref: string, amount: number, created: string) => ({
      id,
      customer_id: customer,
      usage_ref: ref,
      amount,
      currency: "EUR",
      status: "succeeded",
      created_at: `2014-11-${created}Z`,
    });
    const charges = await t.call("POST", "/api/v1/import/charges", [
      charge("ch_1001", "K1", "R1", 1160, "10T08:15:02"),
      charge("ch_1002", "K1", "R1", 1160, "10T08:15:04"),
      charge("ch_1004", "K2", "R3", 870, "11T09:00:00"),
      charge("ch_1005", "K2", "R3", 870, "12T02:00:00"),
      charge("ch_1006", "K2", "R3", 870, "13T02:00:00"),
    ]);
    expect(charges.status, JSON.stringify(charges.json)).toBe(200);
    const yaml = readFileSync(
      new URL("../../examples/policies/car2go-2014-double-charge.yaml", import.meta.url),
      "utf8",
    );
    expect((await t.call("POST", "/api/v1/policies", { yaml })).status).toBeLessThan(300);
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-2014",
      title: "Rentals charged twice",
      translations: { it: { title: "Noleggi addebitati due volte", body: "Rimborseremo tutto." } },
      body: "We will refund every duplicate.",
      started_at: "2014-11-10T00:00:00Z",
      components: [],
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    await t.call("POST", "/api/v1/incidents/INC-2014/resolve");
    clock = Date.parse("2014-11-17T10:00:00Z");
    const run = await t.call("POST", "/api/v1/incidents/INC-2014/compensation-runs", {
      policy: "car2go-2014-double-charge",
      as_of: "2014-11-17T10:00:00Z",
      detected_at: "2014-11-14T09:00:00Z",
    });
    expect(run.status, JSON.stringify(run.json)).toBe(201);
    expect((await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/approve`)).status).toBe(200);
    expect((await t.call("POST", `/api/v1/compensation-runs/${run.json.id}/apply`)).status).toBe(200);

    const k1 = await one("k1@example.de", /quanto ti spetta/);
    expect(k1.subject).toBe("The Fleet: quanto ti spetta per Noleggi addebitati due volte");
    expect(k1.text).toContain("Ricevi un rimborso di 11,60 € e 30 minuti gratuiti.");
    expect(k1.text).toContain(
      "30 minuti gratuiti: da usare a Berlin a partire dal 19 novembre 2014; validità 90 giorni, fino al 15 febbraio 2015.",
    );
    const k2 = await one("k2@example.de", /quanto ti spetta/);
    // Two duplicates refunded: one total, not "8,70 € e 8,70 €".
    expect(k2.text).toContain("Ricevi un rimborso di 17,40 € e 30 minuti gratuiti.");
    expect(k2.text).toContain("da usare a Hamburg");
    for (const m of [k1, k2]) {
      expect(m.text).not.toMatch(ISO);
      // Links carry ids; the words do not.
      expect(m.text.replace(/https?:\/\/\S+/g, "")).not.toMatch(/\bberlin\b|\bhamburg\b|INC-2014|ch_10/);
    }
  }, 120_000);
});
