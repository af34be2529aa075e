/**
 * Paid SMS, proved at the receivers (a real SMTP server, Twilio's wire format):
 *  - customers imported with e-mail, phone and the SMS add-on get an SMS and an e-mail, those
 *    without it an e-mail, those with a number only and no add-on nothing;
 *  - the cost shown before the send (protocol dry run, the event's estimate) is the segments
 *    Twilio was given, message by message: each reader's language, their unsubscribe link;
 *  - above the threshold only the SMS wait; the e-mail goes at once, the SMS after the go-ahead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smsSegments } from "../../src/core/notifications.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { importCsv, startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { type ChannelFakes, startChannelFakes } from "../support/channels.ts";
import type { SmtpFake } from "../support/fakes/smtp.ts";
import type { TwilioFake } from "../support/fakes/twilio.ts";
import { until } from "../support/until.ts";

const csvCell = (v: string) => `"${v.replaceAll('"', '""')}"`;

describe.each(BACKENDS)("paid SMS on %s", (backend) => {
  let t: TestApp;
  let smtp: SmtpFake;
  let twilio: TwilioFake;
  let fakes: ChannelFakes;
  let notifier: Notifier;
  /** customers with the add-on, whose ids and languages vary the length of their messages */
  const many = Array.from({ length: 24 }, (_, i) => ({
    id: `M${"x".repeat(i % 7)}${i}`,
    phone: `+39 347 100 ${String(1000 + i)}`,
    locale: ["it", "en", "es", "de"][i % 4]!,
  }));

  beforeAll(async () => {
    fakes = await startChannelFakes({ from: "EOLO <stato@eolo.test>" });
    ({ smtp, twilio } = fakes);
    t = await startTestApp(backend, { channels: fakes.channels });
    notifier = await startNotifier(t.database, { channels: fakes.channels });
    expect(
      (
        await t.call("POST", "/api/v1/components", {
          id: "tower-sondrio",
          name: "Torre Sondrio",
          region: "sondrio",
        })
      ).status,
    ).toBe(201);
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "https://stato.eolo.test",
      notify_affected_customers: true,
      sms: {
        entitlement_required: true,
        prices: { IT: { price: "0.0725", currency: "EUR" } },
        confirm_above: { amount: 100, currency: "EUR" },
      },
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
    // As the README documents the columns: email, phone, sms_entitled, and channels as JSON in a CSV cell.
    const csv = [
      "id,home_region,locale,email,phone,sms_entitled,channels",
      "K1,sondrio,it,k1@example.com,+39 347 000 0001,true,",
      "K2,sondrio,en,k2@example.com,+39 347 000 0002,false,",
      "K3,sondrio,en,,+39 347 000 0003,,",
      `K4,sondrio,es,,,yes,${csvCell(
        JSON.stringify([
          { type: "sms", address: "+39 347 000 0004" },
          { type: "email", address: "k4@example.com" },
        ]),
      )}`,
      ...many.map((m) => `${m.id},sondrio,${m.locale},,${m.phone},1,`),
    ].join("\n");
    await importCsv(t, "customers", csv);
    const protocol = await t.call("PUT", "/api/v1/protocols/tower-sondrio", {
      title: "Tower Sondrio without power",
      body: "The tower that serves Sondrio and the valley has lost power after the storm; technicians are on their way with a generator and we expect service back within the afternoon. Customers on this tower cannot connect until then.",
      translations: {
        it: {
          title: "Torre di Sondrio senza corrente",
          body: "La torre che serve Sondrio e la valle è senza corrente dopo il temporale; i tecnici stanno arrivando con un generatore e contiamo di ripristinare il servizio entro il pomeriggio. Fino ad allora i clienti su questa torre non possono connettersi.",
        },
        es: {
          title: "Torre de Sondrio sin corriente",
          body: "La torre que da servicio a Sondrio y al valle se ha quedado sin corriente tras la tormenta; los técnicos están en camino con un generador y esperamos restablecer el servicio durante la tarde.",
        },
      },
      components: [{ id: "tower-sondrio", status: "major_outage" }],
      nextUpdateMinutes: 60,
    });
    expect(protocol.status, JSON.stringify(protocol.json)).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await fakes?.stop();
  });

  it("texts and e-mails what customers bought, and the SMS priced are the SMS sent", async () => {
    const entitled = 2 + many.length; // K1, K4 and the many
    const estimate = await t.call("POST", "/api/v1/notification-estimate", { components: ["tower-sondrio"] });
    expect(estimate.status, JSON.stringify(estimate.json)).toBe(200);
    // K1 by SMS and e-mail, K2 by e-mail, K3 (a number, no add-on) not at all, K4 by SMS and e-mail.
    expect(estimate.json.recipients).toEqual({ sms: entitled, email: 3 });

    const dry = await t.call("POST", "/api/v1/protocols/tower-sondrio/start", { dryRun: true });
    expect(dry.status, JSON.stringify(dry.json)).toBe(200);
    expect(dry.json.estimate.sms.messages).toBe(entitled);
    expect(dry.json.estimate.needsConfirmation).toBe(true);

    const started = await t.call("POST", "/api/v1/protocols/tower-sondrio/start", { dryRun: false });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    const waiting = started.json.notification;
    expect(waiting).toMatchObject({ channel: "sms", recipients: entitled });
    expect(waiting.message).toContain("wait for cost confirmation: amends notifications confirm msg_");
    await notifier.dispatch();

    // The free part goes at once; the SMS wait.
    const mailed = () => smtp.received.flatMap((m) => m.to).sort();
    await until("the e-mails", () => mailed().length >= 3);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(mailed()).toEqual(["k1@example.com", "k2@example.com", "k4@example.com"]);
    expect(twilio.messages).toEqual([]);
    const event = (await t.call("GET", `/api/v1/notification-events/${waiting.event_id}`)).json;
    expect(event.status).toBe("awaiting_confirmation");
    expect(event.waiting.message).toBe(waiting.message);

    expect((await t.call("POST", `/api/v1/notification-events/${waiting.event_id}/confirm`)).status).toBe(
      200,
    );
    await notifier.dispatch();
    await until("every SMS", () => twilio.messages.length >= entitled);
    await new Promise((r) => setTimeout(r, 1_500));

    // Once per recipient and channel.
    const texted = twilio.messages.map((m) => m.to).sort();
    expect(new Set(texted).size).toBe(texted.length);
    expect(texted).toContain("+393470000001");
    expect(texted).toContain("+393470000004");
    expect(texted).not.toContain("+393470000002");
    expect(texted).not.toContain("+393470000003");
    expect(mailed()).toEqual(["k1@example.com", "k2@example.com", "k4@example.com"]);

    // Each reader's language and their own unsubscribe link, all counted.
    const k1 = twilio.messages.find((m) => m.to === "+393470000001")!;
    expect(k1.body).toContain("Torre di Sondrio senza corrente");
    expect(k1.body).toMatch(/https:\/\/stato\.eolo\.test\/u\/c-K1\.[\w-]{16}$/);
    const k4 = twilio.messages.find((m) => m.to === "+393470000004")!;
    expect(k4.body).toContain("Torre de Sondrio sin corriente");
    expect(smsSegments(k4.body).encoding).toBe("ucs2"); // "técnicos" is not GSM-7
    const received = twilio.messages.reduce((n, m) => n + smsSegments(m.body).segments, 0);
    expect(received).toBeGreaterThan(entitled); // several parts each, not one
    expect(event.estimate.sms.segments).toBe(received);
    expect(dry.json.estimate.sms.segments).toBe(received);
    expect(started.json.estimate.sms.segments).toBe(received);
    // 7.25 cents a segment, rounded once.
    expect(event.estimate.sms.cost).toEqual([
      { currency: "EUR", amount: Math.round((received * 725) / 100 + 1e-9) },
    ]);
  }, 120_000);
});
