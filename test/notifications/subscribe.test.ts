/**
 * Subscribing like on the best pages, proved where the messages land (a real SMTP server,
 * Twilio's wire format): the page's form takes e-mail and SMS with a choice of components and
 * cities, in the page's language; confirmation, management and unsubscribe pages speak the
 * subscriber's language; unknown components are refused wherever a list comes in; one-click
 * unsubscribe takes both form encodings; e-mails name their language; a protocol carries an
 * ETA and its support channel is a link.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { importCsv, startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { type ChannelFakes, startChannelFakes } from "../support/channels.ts";
import { decodeWords, leaves, type ReceivedMail, type SmtpFake } from "../support/fakes/smtp.ts";
import type { TwilioFake } from "../support/fakes/twilio.ts";
import { until } from "../support/until.ts";

const part = (m: ReceivedMail, type: string) =>
  leaves(m.message)
    .filter((p) => (p.headers.get("content-type") ?? "").startsWith(type))
    .map((p) => p.body)
    .join("\n");
const subjectOf = (m: ReceivedMail) => decodeWords(m.message.headers.get("subject") ?? "");
const mailTo = (smtp: SmtpFake, address: string) => smtp.received.filter((m) => m.to.includes(address));

/** A form as a browser or mail client encodes it: urlencoded, or multipart/form-data. */
async function encoded(fields: [string, string][], multipart: boolean) {
  if (!multipart) {
    return {
      payload: new URLSearchParams(fields).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    };
  }
  const form = new FormData();
  for (const [k, v] of fields) form.append(k, v);
  const req = new Request("http://x/", { method: "POST", body: form });
  return {
    payload: Buffer.from(await req.arrayBuffer()),
    headers: { "content-type": req.headers.get("content-type")! },
  };
}

describe.each(BACKENDS)("subscribing on %s", (backend) => {
  let t: TestApp;
  let smtp: SmtpFake;
  let twilio: TwilioFake;
  let fakes: ChannelFakes;
  let notifier: Notifier;

  const post = async (url: string, fields: [string, string][], multipart = false) =>
    t.app.inject({ method: "POST", url, ...(await encoded(fields, multipart)) });
  const linkIn = (m: ReceivedMail, path: string) =>
    new RegExp(`http://status\\.fleet\\.test(${path.replace("?", "\\?")}\\?t=[\\w.-]+)`).exec(
      part(m, "text/plain"),
    )![1]!;

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
      sms: { subscriptions: true },
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await fakes?.stop();
  });

  it("refuses unknown components and cities wherever a list comes in, naming the field", async () => {
    const mails = smtp.received.length;
    const cases: [string, string, unknown, string][] = [
      [
        "POST",
        "/api/v1/public/subscriptions",
        { channel: "email", address: "x@example.com", components: ["nope"] },
        "components.0",
      ],
      [
        "POST",
        "/api/v1/public/subscriptions",
        { channel: "email", address: "x@example.com", regions: ["atlantis"] },
        "regions.0",
      ],
      ["POST", "/api/v1/notification-estimate", { components: ["end-rental", "nope"] }, "components.1"],
      [
        "POST",
        "/api/v1/incidents",
        { title: "x", body: "y", components: [{ id: "nope", status: "major_outage" }] },
        "components.0.id",
      ],
      [
        "POST",
        "/api/v1/maintenances",
        {
          title: "x",
          body: "y",
          components: ["nope"],
          starts_at: "2030-01-01T00:00:00Z",
          ends_at: "2030-01-01T01:00:00Z",
        },
        "components.0",
      ],
      [
        "PUT",
        "/api/v1/protocols/p",
        { title: "x", body: "y", components: [{ id: "nope", status: "major_outage" }] },
        "components.0.id",
      ],
    ];
    for (const [method, url, body, field] of cases) {
      const res = await t.call(method, url, body);
      expect(res.status, `${url} ${JSON.stringify(res.json)}`).toBe(400);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(res.json.errors.map((e: { field: string }) => e.field)).toEqual([field]);
    }
    // The page's form too, in the page's language, and nothing is sent.
    const form = await post("/subscribe", [
      ["locale", "it"],
      ["email", "x@example.com"],
      ["components", "nope"],
    ]);
    expect(form.statusCode).toBe(400);
    expect(form.body).toContain("Controlla il modulo");
    expect(smtp.received.length).toBe(mails);
  });

  it("subscribes from the page's form by e-mail and SMS, with a choice, all in Italian", async () => {
    const page = await t.app.inject({ method: "GET", url: "/it/" });
    expect(page.body).toContain('name="phone" type="tel"');
    expect(page.body).toContain('name="components" value="end-rental-milan"');
    expect(page.body).toContain('name="regions" value="rome"');
    expect(page.body).toContain("Numero di cellulare per gli SMS");

    const res = await post("/subscribe", [
      ["locale", "it"],
      ["email", "Gina@Example.com"],
      ["phone", "+39 347 765 4321"],
      ["components", "end-rental-milan"],
      ["regions", "rome"],
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('<html lang="it"');
    expect(res.body).toContain("Controlla la posta");
    expect(res.body).toContain("Abbiamo inviato un codice via SMS");

    // The confirmations, where they land: Italian, and the e-mail says so.
    const [mail] = mailTo(smtp, "gina@example.com");
    expect(subjectOf(mail!)).toBe("Conferma gli avvisi di stato di The Fleet");
    expect(mail!.message.headers.get("content-language")).toBe("it");
    expect(part(mail!, "text/plain")).toContain("Conferma che vuoi ricevere");
    const sms = twilio.messages.filter((m) => m.to === "+393477654321");
    expect(sms).toHaveLength(1);
    expect(sms[0]!.body).toContain("Il tuo codice di conferma The Fleet");
    const code = /(\d{6})/.exec(sms[0]!.body)![1]!;

    // The code, typed into the page (no JavaScript): a wrong one is refused, the right one confirms.
    const id = /name="id" value="([^"]+)"/.exec(res.body)![1]!;
    const wrong = await post("/subscribe/confirm", [
      ["locale", "it"],
      ["id", id],
      ["code", code === "000000" ? "111111" : "000000"],
    ]);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain("Il codice non è corretto");
    const right = await post("/subscribe/confirm", [
      ["locale", "it"],
      ["id", id],
      ["code", code],
    ]);
    expect(right.statusCode).toBe(200);
    expect(right.body).toContain("Iscrizione confermata");

    // The e-mail's link: the page asks first, then confirms, in the subscriber's language.
    const confirm = linkIn(mail!, "/subscriptions/confirm");
    const shown = await t.app.inject({ method: "GET", url: confirm, headers: { "accept-language": "en" } });
    expect(shown.body).toContain('<html lang="it"');
    expect(shown.body).toContain("Sì, inviatemi gli aggiornamenti");
    const token = new URL(confirm, "http://x").searchParams.get("t")!;
    const confirmed = await post("/subscriptions/confirm", [["t", token]]);
    expect(confirmed.body).toContain("Iscrizione confermata");
    const manage = /href="(\/subscriptions\/manage\?t=[^"]+)"/.exec(confirmed.body)![1]!;

    const subs = (await t.call("GET", "/api/v1/subscribers")).json.subscribers.filter((s: any) =>
      ["gina@example.com", "+393477654321"].includes(s.address),
    );
    expect(subs).toHaveLength(2);
    for (const s of subs) {
      expect(s).toMatchObject({ locale: "it", components: ["end-rental-milan"], regions: ["rome"] });
      expect(s.confirmed_at).not.toBeNull();
    }

    // Management: what she follows, changed in Italian (a multipart post, as some browsers send).
    const managed = await t.app.inject({ method: "GET", url: manage });
    expect(managed.body).toContain('<html lang="it"');
    expect(managed.body).toContain("I tuoi aggiornamenti");
    expect(managed.body).toMatch(/value="end-rental-milan" checked/);
    const saved = await post(
      "/subscriptions/manage",
      [
        ["t", new URL(manage, "http://x").searchParams.get("t")!],
        ["components", "end-rental-rome"],
      ],
      true,
    );
    expect(saved.statusCode).toBe(200);
    expect(saved.body).toContain("Salvato.");
    expect(saved.body).toMatch(/value="end-rental-rome" checked/);
    const after = (await t.call("GET", "/api/v1/subscribers")).json.subscribers.find(
      (s: any) => s.address === "gina@example.com",
    );
    expect(after).toMatchObject({ components: ["end-rental-rome"], regions: [] });

    // Unsubscribing from the same link: asked in Italian, done in Italian.
    const stop = manage.replace("/subscriptions/manage", "/unsubscribe");
    const asked = await t.app.inject({ method: "GET", url: stop });
    expect(asked.body).toContain("Non ricevere più questi messaggi?");
    const done = await t.app.inject({ method: "POST", url: stop });
    expect(done.body).toContain("Iscrizione annullata");
  }, 60_000);

  it("follows one incident from its page: its updates only, until it is resolved", async () => {
    const opened = await t.call("POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended in Rome",
      body: "We are looking into it.",
      components: [{ id: "end-rental-rome", status: "major_outage" }],
      notify: false,
    });
    const incident = opened.json.id as string;
    const page = await t.app.inject({ method: "GET", url: `/incidents/${incident}` });
    expect(page.body).toContain(`name="incident" value="${incident}"`);
    expect(page.body).toContain("Follow this incident");

    const res = await post("/subscribe", [
      ["locale", "en"],
      ["email", "olga@example.com"],
      ["incident", incident],
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const confirm = linkIn(mailTo(smtp, "olga@example.com")[0]!, "/subscriptions/confirm");
    const token = new URL(confirm, "http://x").searchParams.get("t")!;
    const confirmed = await post("/subscriptions/confirm", [["t", token]]);
    expect(confirmed.statusCode).toBe(200);
    // Its own page says what it follows.
    const manage = /href="(\/subscriptions\/manage\?t=[^"]+)"/.exec(confirmed.body)![1]!;
    expect((await t.app.inject({ method: "GET", url: manage })).body).toContain(
      "You follow one incident only: “Rentals cannot be ended in Rome”",
    );

    // Another incident, anywhere: nothing reaches the follower. This one's update and resolution do.
    const other = await t.call("POST", "/api/v1/incidents", {
      title: "Milan rentals slow",
      body: "Slow to end in Milan.",
      components: [{ id: "end-rental-milan", status: "degraded_performance" }],
    });
    await t.call("POST", `/api/v1/incidents/${incident}/updates`, {
      status: "identified",
      body: "A backend deploy; rolling back.",
    });
    await t.call("POST", `/api/v1/incidents/${incident}/resolve`, { body: "Rentals end again in Rome." });
    await until("the follower's two messages", async () => mailTo(smtp, "olga@example.com").length >= 3);
    await new Promise((r) => setTimeout(r, 500));
    const mails = mailTo(smtp, "olga@example.com").slice(1);
    expect(mails.map((m) => part(m, "text/plain")).join("\n")).not.toContain("Milan rentals slow");
    expect(mails).toHaveLength(2);
    expect(part(mails[0]!, "text/plain")).toContain("A backend deploy; rolling back.");
    expect(part(mails[1]!, "text/plain")).toContain("Rentals end again in Rome.");

    // A resolved incident cannot be followed; it answers naming the field, and nothing is sent.
    const late = await t.call("POST", "/api/v1/public/subscriptions", {
      channel: "email",
      address: "late@example.com",
      incident,
    });
    expect(late.status).toBe(400);
    expect(late.json.errors[0].field).toBe("incident");
    expect(mailTo(smtp, "late@example.com")).toHaveLength(0);
    await t.call("POST", `/api/v1/incidents/${other.json.id}/resolve`, { body: "Fine." });
  });

  it("unsubscribes in one click with either form encoding, and e-mails name their language", async () => {
    // A German subscriber and a Spanish customer (never subscribed) in Milan.
    const res = await t.call("POST", "/api/v1/public/subscriptions", {
      channel: "email",
      address: "hans@example.com",
      locale: "de",
      regions: ["milan"],
    });
    expect(res.status).toBe(202);
    const confirm = linkIn(mailTo(smtp, "hans@example.com")[0]!, "/subscriptions/confirm");
    expect(mailTo(smtp, "hans@example.com")[0]!.message.headers.get("content-language")).toBe("de");
    await t.app.inject({ method: "POST", url: confirm });
    await importCsv(t, "customers", "id,home_region,locale,email\nC-ES,milan,es,lola@example.com\n");

    const opened = await t.call("POST", "/api/v1/incidents", {
      id: "INC-ONE-CLICK",
      title: "Rentals cannot be ended in Milan",
      body: "We are on it.",
      components: [{ id: "end-rental-milan", status: "major_outage" }],
    });
    expect(opened.status).toBe(201);
    await notifier.dispatch();
    await until(
      "both e-mails",
      () => mailTo(smtp, "hans@example.com").length === 2 && mailTo(smtp, "lola@example.com").length === 1,
    );
    const hans = mailTo(smtp, "hans@example.com")[1]!;
    const lola = mailTo(smtp, "lola@example.com")[0]!;
    expect(hans.message.headers.get("content-language")).toBe("de");
    expect(lola.message.headers.get("content-language")).toBe("es");

    // RFC 8058: the client POSTs List-Unsubscribe=One-Click to the header's URL, in either encoding.
    for (const [mail, multipart] of [
      [hans, false],
      [lola, true],
    ] as const) {
      expect(mail.message.headers.get("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
      const url = new URL(mail.message.headers.get("list-unsubscribe")!.slice(1, -1));
      const res = await post(`${url.pathname}${url.search}`, [["List-Unsubscribe", "One-Click"]], multipart);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).toContain(multipart ? "Te has dado de baja" : "Sie haben abbestellt");
    }
    const c1Before = smtp.received.length;
    await t.call("POST", "/api/v1/incidents/INC-ONE-CLICK/resolve", { body: "Fixed." });
    await notifier.dispatch();
    await until("the resolution to be sent", async () => {
      const events = (await t.call("GET", "/api/v1/notification-events")).json.events;
      return events.some(
        (e: any) =>
          e.incident_id === "INC-ONE-CLICK" && e.event === "incident.resolved" && e.status === "done",
      );
    });
    expect(mailTo(smtp, "hans@example.com")).toHaveLength(2);
    expect(mailTo(smtp, "lola@example.com")).toHaveLength(1);
    expect(smtp.received.length).toBe(c1Before);
  }, 60_000);

  it("starts a protocol with an ETA, told in the reader's words, with its support channel as a link", async () => {
    const bad = await t.call("PUT", "/api/v1/protocols/milan", {
      title: "x",
      body: "y",
      support: { text: "Help:", channel: { kind: "url", url: "javascript:alert(1)" } },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.errors.map((e: { field: string }) => e.field)).toEqual(["support.channel.url"]);
    const put = await t.call("PUT", "/api/v1/protocols/milan", {
      title: "Rentals cannot be ended in Milan",
      body: "Leave the car parked safely.",
      translations: {
        it: { title: "Impossibile terminare il noleggio a Milano", body: "Parcheggia l'auto." },
      },
      components: [{ id: "end-rental-milan", status: "major_outage" }],
      support: {
        text: "Need help now? Ask for a callback:",
        translations: { it: "Serve aiuto? Chiedi di essere richiamato:" },
        channel: { kind: "callback", url: "https://help.fleet.test/callback?city=milan&lang=it" },
      },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    const sub = await t.call("POST", "/api/v1/public/subscriptions", {
      channel: "email",
      address: "ugo@example.com",
      locale: "it",
      components: ["end-rental-milan"],
    });
    expect(sub.status).toBe(202);
    await t.app.inject({
      method: "POST",
      url: linkIn(mailTo(smtp, "ugo@example.com")[0]!, "/subscriptions/confirm"),
    });

    const eta = "2031-03-05T16:30:00.000Z";
    const started = await t.call("POST", "/api/v1/protocols/milan/start", { eta });
    expect(started.status, JSON.stringify(started.json)).toBe(201);
    expect(started.json.incident.eta).toBe(eta);
    await notifier.dispatch();
    await until("the protocol's e-mail", () => mailTo(smtp, "ugo@example.com").length === 2);
    const mail = mailTo(smtp, "ugo@example.com")[1]!;
    const text = part(mail, "text/plain");
    // 16:30 UTC is 17:30 in Rome (the workspace's zone), in Italian, never as an ISO timestamp.
    expect(text).toMatch(/Risoluzione prevista: 5 mar 2031.*17:30/);
    expect(text).not.toContain("2031-03-05T");
    const htmlPart = part(mail, "text/html");
    expect(htmlPart).toContain(
      '<a href="https://help.fleet.test/callback?city=milan&amp;lang=it">https://help.fleet.test/callback?city=milan&amp;lang=it</a>',
    );
    const page = await t.app.inject({ method: "GET", url: "/it/" });
    expect(page.body).toContain(
      'Serve aiuto? Chiedi di essere richiamato: <a href="https://help.fleet.test/callback?city=milan&amp;lang=it">',
    );
  }, 60_000);

  it("offers e-mail only where the workspace does not offer SMS, and the API agrees", async () => {
    const current = (await t.call("GET", "/api/v1/notification-settings")).json;
    await t.call("PUT", "/api/v1/notification-settings", {
      ...current,
      sms: { ...current.sms, subscriptions: false },
    });
    const page = await t.app.inject({ method: "GET", url: "/?lang=de" });
    expect(page.body).not.toContain('name="phone"');
    expect(page.body).toMatch(/name="email" type="email"[^>]*required/);
    const sms = await t.call("POST", "/api/v1/public/subscriptions", {
      channel: "sms",
      address: "+39 347 111 2222",
    });
    expect(sms.status).toBe(400);
    expect(sms.json.errors.map((e: { field: string }) => e.field)).toEqual(["channel"]);
    expect(twilio.messages.filter((m) => m.to === "+393471112222")).toHaveLength(0);
    await t.call("PUT", "/api/v1/notification-settings", current);
  });
});
