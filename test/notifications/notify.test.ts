/**
 * End to end through the real queue (pg-boss), a real SMTP server and Twilio's wire format: the
 * right people hear about an incident in their language, unconfirmed addresses hear nothing but
 * their confirmation, the unsubscribe link works alone, and nothing is sent twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { importCsv, startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { type ChannelFakes, startChannelFakes } from "../support/channels.ts";
import { decodeWords, leaves, type ReceivedMail, type SmtpFake } from "../support/fakes/smtp.ts";
import type { TwilioFake } from "../support/fakes/twilio.ts";
import { until } from "../support/until.ts";

const textOf = (m: ReceivedMail) =>
  leaves(m.message)
    .filter((p) => (p.headers.get("content-type") ?? "").startsWith("text/plain"))
    .map((p) => p.body)
    .join("\n");
const subjectOf = (m: ReceivedMail) => decodeWords(m.message.headers.get("subject") ?? "");
const mailTo = (smtp: SmtpFake, address: string) => smtp.received.filter((m) => m.to.includes(address));

describe.each(BACKENDS)("notifications on %s", (backend) => {
  let t: TestApp;
  let smtp: SmtpFake;
  let twilio: TwilioFake;
  let fakes: ChannelFakes;
  let notifier: Notifier;

  beforeAll(async () => {
    fakes = await startChannelFakes();
    ({ smtp, twilio } = fakes);
    t = await startTestApp(backend, { channels: fakes.channels });
    notifier = await startNotifier(t.database, { channels: fakes.channels });
    for (const c of [
      { id: "end-rental", name: "End rental" },
      { id: "end-rental-milan", name: "Milan", parent_id: "end-rental", region: "milan" },
      { id: "end-rental-rome", name: "Rome", parent_id: "end-rental", region: "rome" },
    ])
      expect((await t.call("POST", "/api/v1/components", c)).status).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "http://status.fleet.test",
      notify_affected_customers: true,
      team: [{ channel: "email", address: "ops@fleet.test", locale: "en" }],
      sms: { subscriptions: true },
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await fakes?.stop();
  });

  async function subscribeByEmail(body: Record<string, unknown>) {
    const res = await t.call("POST", "/api/v1/public/subscriptions", { channel: "email", ...body });
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    const mail = mailTo(smtp, String(body.address).toLowerCase()).at(-1)!;
    const link = /http:\/\/status\.fleet\.test\/subscriptions\/confirm\?t=(\S+)/.exec(textOf(mail))![1]!;
    return { id: res.json.id as string, token: link };
  }

  it("sends only the confirmation until the address is confirmed by its link", async () => {
    const alice = await subscribeByEmail({
      address: "Alice@Example.com",
      locale: "it",
      components: ["end-rental-milan"],
    });
    expect(mailTo(smtp, "alice@example.com")).toHaveLength(1);
    expect(subjectOf(mailTo(smtp, "alice@example.com")[0]!)).toContain("Conferma");
    // GET only shows a button (link scanners must not confirm); POST confirms.
    const shown = await t.app.inject({ method: "GET", url: `/subscriptions/confirm?t=${alice.token}` });
    expect(shown.body).toContain("<form");
    const forged = await t.app.inject({
      method: "POST",
      url: "/subscriptions/confirm",
      payload: `t=${alice.token.slice(0, -2)}xx`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(forged.statusCode).toBe(400);
    const confirmed = await t.app.inject({
      method: "POST",
      url: "/subscriptions/confirm",
      payload: `t=${alice.token}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(confirmed.statusCode).toBe(200);
    const bob = await subscribeByEmail({ address: "bob@example.com", locale: "de", regions: ["rome"] });
    await t.app.inject({ method: "POST", url: `/subscriptions/confirm?t=${bob.token}` });
    await subscribeByEmail({ address: "carol@example.com", locale: "fr" }); // never confirms

    const sms = await t.call("POST", "/api/v1/public/subscriptions", {
      channel: "sms",
      address: "+39 347 123 4567",
      regions: ["milan"],
    });
    expect(sms.status, JSON.stringify(sms.json)).toBe(202);
    const code = /(\d{6})/.exec(twilio.messages.at(-1)!.body)![1]!;
    expect(twilio.messages.at(-1)!.to).toBe("+393471234567");
    const wrong = await t.call("POST", `/api/v1/public/subscriptions/${sms.json.id}/confirm`, {
      code: "000000",
    });
    expect(wrong.status).toBe(400);
    const ok = await t.call("POST", `/api/v1/public/subscriptions/${sms.json.id}/confirm`, { code });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
  }, 60_000);

  it("subscribes from the status page's form, without JavaScript, in the page's language", async () => {
    const page = await t.app.inject({ method: "GET", url: "/it/" });
    expect(page.body).toContain('<form method="post" action="/subscribe"');
    const res = await t.app.inject({
      method: "POST",
      url: "/subscribe",
      payload: "locale=it&address=erin%40example.com",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("Controlla la posta");
    expect(subjectOf(mailTo(smtp, "erin@example.com")[0]!)).toContain("Conferma");
    const bad = await t.app.inject({
      method: "POST",
      url: "/subscribe",
      payload: "locale=it&address=nope",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(bad.statusCode).toBe(400);
  });

  it("refuses bad and premium-rate numbers and bad e-mail, naming the field", async () => {
    for (const [channel, address] of [
      ["sms", "+39 899 123456"],
      ["sms", "12345"],
      ["email", "not-an-email"],
    ]) {
      const res = await t.call("POST", "/api/v1/public/subscriptions", { channel, address });
      expect(res.status, `${channel} ${address}`).toBe(400);
      expect(JSON.stringify(res.json)).toContain("address");
    }
  });

  it("tells subscribers, affected customers and the team, each in their language, once", async () => {
    const csv = "id,home_region,locale,email\nC1,milan,es,c1@example.com\nC2,rome,en,c2@example.com\n";
    await importCsv(t, "customers", csv);
    const before = smtp.received.length;
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-MILAN",
      title: "Rentals cannot be ended in Milan",
      body: "We are investigating.",
      translations: {
        it: { title: "Impossibile terminare il noleggio a Milano", body: "Stiamo indagando." },
      },
      components: [{ id: "end-rental-milan", status: "major_outage" }],
      next_update_by: new Date(Date.now() + 30 * 60_000).toISOString(),
    });
    expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    await notifier.dispatch();
    await until(
      "four e-mails and one SMS",
      () => smtp.received.length - before >= 3 && twilio.messages.length >= 2,
    );
    await until("the fan-out to finish", async () => {
      const events = (await t.call("GET", "/api/v1/notification-events")).json.events;
      const e = events.find((x: any) => x.incident_id === "INC-MILAN");
      return e?.status === "done" && e.progress.every((p: any) => p.status === "sent");
    });

    const alice = mailTo(smtp, "alice@example.com").at(-1)!;
    expect(subjectOf(alice)).toBe("The Fleet: Impossibile terminare il noleggio a Milano");
    expect(textOf(alice)).toContain("Stiamo indagando.");
    expect(textOf(alice)).toContain("http://status.fleet.test/incidents/INC-MILAN");
    const unsubscribe = alice.message.headers.get("list-unsubscribe")!;
    expect(unsubscribe).toMatch(/^<http:\/\/status\.fleet\.test\/unsubscribe\?t=/);
    expect(alice.message.headers.get("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");

    const c1 = mailTo(smtp, "c1@example.com");
    expect(c1).toHaveLength(1); // affected customer (Milan), never subscribed
    expect(subjectOf(c1[0]!)).toBe("The Fleet: Rentals cannot be ended in Milan"); // es has no operator text: original
    expect(textOf(c1[0]!)).toContain("Próxima actualización antes de");
    expect(mailTo(smtp, "ops@fleet.test")).toHaveLength(1);
    expect(mailTo(smtp, "c2@example.com")).toHaveLength(0); // Rome
    expect(mailTo(smtp, "bob@example.com").length).toBe(1); // only the confirmation: he follows Rome
    expect(mailTo(smtp, "carol@example.com").length).toBe(1); // unconfirmed: only the confirmation
    expect(twilio.messages.at(-1)!.body).toContain("Rentals cannot be ended in Milan");

    // Dispatching again, or the fan-out job running again, sends nothing twice.
    const sent = smtp.received.length;
    await t.database.query("update outbox_messages set status = 'pending' where incident_id = 'INC-MILAN'");
    await notifier.dispatch();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(smtp.received.length).toBe(sent);

    // One-click unsubscribe from the link alone (RFC 8058), then the next update skips her.
    const url = new URL(unsubscribe.slice(1, -1));
    const res = await t.app.inject({
      method: "POST",
      url: `${url.pathname}${url.search}`,
      payload: "List-Unsubscribe=One-Click",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.statusCode).toBe(200);
    const aliceBefore = mailTo(smtp, "alice@example.com").length;
    const c1Before = mailTo(smtp, "c1@example.com").length;
    await t.call("POST", "/api/v1/incidents/INC-MILAN/resolve", { body: "Fixed." });
    await notifier.dispatch();
    await until("the resolution to reach C1", () => mailTo(smtp, "c1@example.com").length > c1Before);
    expect(mailTo(smtp, "alice@example.com").length).toBe(aliceBefore);
  }, 90_000);

  it("estimates recipients and SMS cost first, and waits for a person above the threshold", async () => {
    const current = (await t.call("GET", "/api/v1/notification-settings")).json;
    const put = await t.call("PUT", "/api/v1/notification-settings", {
      ...current,
      sms: {
        ...current.sms,
        prices: { IT: { price: "0.0725", currency: "EUR" } },
        confirm_above: { amount: 0, currency: "EUR" },
      },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const est = await t.call("POST", "/api/v1/notification-estimate", {
      components: ["end-rental-milan"],
      title: "Down",
    });
    expect(est.status, JSON.stringify(est.json)).toBe(200);
    expect(est.json.recipients.sms).toBe(1);
    expect(est.json.countries.IT.messages).toBe(1);
    const segments = est.json.countries.IT.segments;
    // segments × 7.25 cents, rounded once (half up)
    expect(est.json.sms.cost).toEqual([{ currency: "EUR", amount: Math.round(segments * 7.25 + 1e-9) }]);
    expect(est.json.needsConfirmation).toBe(true);

    const smsBefore = twilio.messages.length;
    const mailBefore = smtp.received.length;
    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-COSTLY",
      title: "Milan again",
      body: "Investigating.",
      components: [{ id: "end-rental-milan", status: "partial_outage" }],
    });
    // The answer says what waits, and why.
    expect(opened.json.notification).toMatchObject({ channel: "sms", recipients: 1 });
    expect(opened.json.notification.message).toMatch(
      /^SMS to 1 recipient \(\d+ segments?, \d+\.\d\d EUR\) wait for cost confirmation: amends notifications confirm msg_\w+\./,
    );
    await notifier.dispatch();
    // Another dispatcher (the timer, or NOTIFY) may hold the event for a moment: wait for its verdict.
    let event: any;
    await until("the event to wait for confirmation", async () => {
      const waiting = (await t.call("GET", "/api/v1/notification-events?status=awaiting_confirmation")).json
        .events;
      event = waiting.find((e: any) => e.incident_id === "INC-COSTLY");
      return Boolean(event);
    });
    expect(event.estimate.sms.cost[0].currency).toBe("EUR");
    expect(event.waiting.message).toBe(opened.json.notification.message);
    // Only the paid part waits: e-mail (the team's, the subscribers') goes at once, with a word to the team.
    const costly = () => smtp.received.slice(mailBefore).filter((m) => /Milan again/.test(subjectOf(m)));
    await until("the free channels", () =>
      costly().some((m) => m.to.includes("ops@fleet.test") && !/waiting/.test(subjectOf(m))),
    );
    await until("the team's confirmation request", () =>
      costly().some((m) => /SMS waiting for your go-ahead/.test(subjectOf(m))),
    );
    const ask = costly().find((m) => /SMS waiting for your go-ahead/.test(subjectOf(m)))!;
    expect(ask.to).toEqual(["ops@fleet.test"]);
    expect(textOf(ask)).toContain(`amends notifications confirm ${event.id}`);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(twilio.messages.length).toBe(smsBefore); // no SMS went out
    const freeMails = costly().length;
    const confirmed = await t.call("POST", `/api/v1/notification-events/${event.id}/confirm`);
    expect(confirmed.status, JSON.stringify(confirmed.json)).toBe(200);
    await notifier.dispatch();
    await until("the confirmed SMS", () => twilio.messages.length > smsBefore);
    expect(twilio.messages.at(-1)!.body).toContain("Milan again");
    expect((await t.call("POST", `/api/v1/notification-events/${event.id}/confirm`)).status).toBe(409);
    await until("the event to be done", async () => {
      const e = (await t.call("GET", `/api/v1/notification-events/${event.id}`)).json;
      return e.status === "done";
    });
    // The go-ahead sent the SMS alone: no e-mail twice.
    expect(costly().length).toBe(freeMails);
    expect(twilio.messages.length).toBe(smsBefore + 1);
  }, 60_000);

  it("delivers each customer's compensation notice, in their language, once", async () => {
    // As the compensation apply writes them: one outbox row per customer, named recipient.
    for (const [customer, address, lines] of [
      [
        "C1",
        "c1@example.com",
        [
          { kind: "refund", amount: 8050, currency: "EUR" },
          { kind: "unit_credit", amount: 30, unit: "minutes" },
        ],
      ],
      ["C2", "c2@example.com", []],
    ] as const)
      await t.database.query(
        `insert into outbox_messages (workspace_id, id, idempotency_key, event, incident_id, customer_id, channel, address, locale, template, payload, status, created_at)
         values ($1, $2, $3, 'compensation.granted', 'INC-MILAN', $4, 'email', $5, $6, 'compensation', $7, 'pending', now())`,
        [
          t.workspaceId,
          `msg_comp_${customer}`,
          `INC-MILAN:${customer}:compensation`,
          customer,
          address,
          customer === "C1" ? "es" : "en",
          JSON.stringify({
            incident_id: "INC-MILAN",
            incident_title: "Rentals cannot be ended in Milan",
            window_start: "2026-11-22T08:00:00Z",
            window_end: "2026-11-22T10:00:00Z",
            nothing_due: lines.length === 0,
            lines,
          }),
        ],
      );
    const before = { c1: mailTo(smtp, "c1@example.com").length, c2: mailTo(smtp, "c2@example.com").length };
    await notifier.dispatch();
    await until(
      "both notices",
      () =>
        mailTo(smtp, "c1@example.com").length > before.c1 &&
        mailTo(smtp, "c2@example.com").length > before.c2,
    );
    await until("C1's notice", () =>
      mailTo(smtp, "c1@example.com").some((m) => subjectOf(m).includes("lo que te debemos")),
    );
    const c1 = mailTo(smtp, "c1@example.com").find((m) => subjectOf(m).includes("lo que te debemos"))!;
    expect(textOf(c1)).toContain("Recibes un reembolso de 80,50");
    expect(textOf(c1)).toContain("30 minutos gratis");
    await until("C2's notice", () =>
      mailTo(smtp, "c2@example.com").some((m) => textOf(m).includes("Nothing was due")),
    );
    await notifier.dispatch();
    await new Promise((r) => setTimeout(r, 1_500));
    const notices = mailTo(smtp, "c1@example.com").filter((m) => subjectOf(m).includes("lo que te debemos"));
    expect(notices).toHaveLength(1);
  }, 60_000);
});
