/**
 * Emergency protocols: prepared in calm times, started in one action. The dry run shows who
 * would hear and what the SMS would cost; the start opens the incident in every language with
 * the support channel, and the one outbox event reaches subscribers, the team and the company's
 * social account (its own post) through the real notifier. A monitor can start one itself.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { smtpSender } from "../../src/notifications/channels/email.ts";
import { mastodonSender } from "../../src/notifications/channels/mastodon.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { MastodonFake } from "../support/fakes/mastodon.ts";
import { leaves, type ReceivedMail, SmtpFake } from "../support/fakes/smtp.ts";
import { until } from "../support/until.ts";
import { flakyHttp, startMonitorApp } from "./support.ts";

const BIN = fileURLToPath(new URL("../../bin/amends.js", import.meta.url));
const run = promisify(execFile);
const textOf = (m: ReceivedMail) =>
  leaves(m.message)
    .filter((p) => (p.headers.get("content-type") ?? "").startsWith("text/plain"))
    .map((p) => p.body)
    .join("\n");

const PROTOCOL = {
  title: "Rentals cannot be ended in Milan",
  body: "Leave the car parked safely; you will not pay for the extra time.",
  translations: {
    it: {
      title: "Impossibile terminare il noleggio a Milano",
      body: "Parcheggia l'auto in sicurezza; il tempo in più non ti sarà addebitato.",
    },
  },
  components: [{ id: "end-rental-milan", status: "major_outage" }],
  social:
    "Ending rentals in Milan fails right now. Park safely: extra time is on us. Updates on our status page.",
  support: {
    text: "Need help now? Ask for a callback:",
    translations: { it: "Serve aiuto? Chiedi di essere richiamato:" },
    channel: { kind: "callback", url: "https://fleet.test/callback", label: "Callback" },
  },
  nextUpdateMinutes: 30,
};

describe.each(BACKENDS)("emergency protocols on %s", (backend) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("validates templates, starts in one call, and a second start returns the same incident", async () => {
    const t = await startTestApp(backend);
    cleanup.push(t.close);
    await t.call("POST", "/api/v1/components", {
      id: "end-rental-milan",
      name: "End rental, Milan",
      region: "milan",
    });
    const bad = await t.call("PUT", "/api/v1/protocols/milan-end-rental", {
      ...PROTOCOL,
      components: [{ id: "nowhere", status: "major_outage" }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([expect.objectContaining({ field: "components.0.id" })]);
    const noTitle = await t.call("PUT", "/api/v1/protocols/milan-end-rental", { ...PROTOCOL, title: "" });
    expect(noTitle.status).toBe(400);
    expect(noTitle.json.errors[0].field).toBe("title");
    expect((await t.call("GET", "/api/v1/protocols")).json.items).toEqual([]);

    const put = await t.call("PUT", "/api/v1/protocols/milan-end-rental", PROTOCOL);
    expect(put.status).toBe(201);
    expect((await t.call("PUT", "/api/v1/protocols/milan-end-rental", PROTOCOL)).status).toBe(200);

    const dry = await t.call("POST", "/api/v1/protocols/milan-end-rental/start", { dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({ incident: null, dryRun: true, estimate: { sms: expect.any(Object) } });
    expect((await t.call("GET", "/api/v1/incidents")).json.incidents).toHaveLength(0);

    const started = await t.call("POST", "/api/v1/protocols/milan-end-rental/start", {});
    expect(started.status).toBe(201);
    const incident = started.json.incident;
    expect(incident).toMatchObject({
      title: PROTOCOL.title,
      title_translations: { it: PROTOCOL.translations.it.title },
      components: [{ id: "end-rental-milan", status: "major_outage" }],
    });
    expect(incident.updates[0].body).toBe(
      `${PROTOCOL.body}\n\nNeed help now? Ask for a callback: Callback: https://fleet.test/callback`,
    );
    expect(incident.updates[0].body_translations.it).toContain("Serve aiuto? Chiedi di essere richiamato:");
    expect(incident.next_update_by).not.toBeNull();
    const [event] = await t.database.query<{ payload: any }>(
      "select payload from outbox_messages where workspace_id = $1 and incident_id = $2",
      [t.workspaceId, incident.id],
    );
    expect(event!.payload).toMatchObject({ protocol: "milan-end-rental", social_post: PROTOCOL.social });

    const again = await t.call("POST", "/api/v1/protocols/milan-end-rental/start", {});
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ alreadyOpen: true, incident: { id: incident.id } });
    expect((await t.call("GET", "/api/v1/incidents")).json.incidents).toHaveLength(1);
    expect((await t.call("POST", "/api/v1/protocols/nope/start", {})).status).toBe(404);

    // A protocol may address some audiences only: the estimate (and the fan-out) leave the rest out.
    await t.call("PUT", "/api/v1/notification-settings", {
      team: [{ channel: "email", address: "ops@fleet.test", locale: "en" }],
    });
    await t.database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, confirmed_at, created_at)
       values ($1, 'sub_1', 'email', 'giulia@example.com', 'it', now(), now())`,
      [t.workspaceId],
    );
    await t.call("PUT", "/api/v1/protocols/team-only", { ...PROTOCOL, channels: ["team"] });
    const everyone = await t.call("POST", "/api/v1/protocols/milan-end-rental/start", { dryRun: true });
    expect(everyone.json.estimate.recipients).toEqual({ email: 2 });
    const teamOnly = await t.call("POST", "/api/v1/protocols/team-only/start", { dryRun: true });
    expect(teamOnly.json.estimate.recipients).toEqual({ email: 1 });
  }, 60_000);

  it("a monitor starts its protocol itself on a confirmed failure", async () => {
    const t = await startMonitorApp(backend);
    cleanup.push(t.close);
    const target = await flakyHttp();
    cleanup.push(target.close);
    await t.call("POST", "/api/v1/components", { id: "end-rental-milan", name: "End rental, Milan" });
    await t.call("PUT", "/api/v1/protocols/milan-end-rental", PROTOCOL);
    const created = await t.call("POST", "/api/v1/monitors", {
      id: "end-rental-api",
      name: "End rental API",
      kind: "http",
      target: target.url,
      componentIds: ["end-rental-milan"],
      intervalSeconds: 1,
      timeoutMs: 500,
      confirm: { consecutive: 2 },
      protocol: "milan-end-rental",
    });
    expect(created.status).toBe(201);
    target.state.failing = true;
    await until(
      "the protocol's incident opens",
      async () => (await t.call("GET", "/api/v1/incidents?state=open")).json.incidents.length === 1,
      15_000,
    );
    const [incident] = (await t.call("GET", "/api/v1/incidents?state=open")).json.incidents;
    expect(incident.title).toBe(PROTOCOL.title);
    expect(incident.updates[0].created_by).toBe("monitor:end-rental-api");
    target.state.failing = false;
    await until(
      "resolved on recovery",
      async () => (await t.call("GET", "/api/v1/incidents?state=open")).json.incidents.length === 0,
      15_000,
    );
    const done = (await t.call("GET", `/api/v1/incidents/${incident.id}`)).json;
    expect(done.updates.at(-1)).toMatchObject({ status: "resolved", created_by: "monitor:end-rental-api" });
  }, 60_000);
});

describe("a protocol reaches everyone at once (PGlite, real notifier, SMTP and Mastodon fakes)", () => {
  let t: TestApp;
  let smtp: SmtpFake;
  const mastodon = new MastodonFake();
  let notifier: Notifier;
  beforeAll(async () => {
    smtp = await new SmtpFake().start();
    await mastodon.start();
    const channels = {
      email: [smtpSender({ url: smtp.url, from: "The Fleet <status@fleet.test>" })],
      mastodon: [mastodonSender({ instanceUrl: mastodon.url, accessToken: mastodon.token })],
    };
    t = await startTestApp("pglite", { channels });
    notifier = await startNotifier(t.database, { channels });
    await t.call("POST", "/api/v1/components", {
      id: "end-rental-milan",
      name: "End rental, Milan",
      region: "milan",
    });
    const settings = await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "http://status.fleet.test",
      team: [{ channel: "email", address: "ops@fleet.test", locale: "en" }],
      sms: { prices: { IT: { price: "0.0725", currency: "EUR" } } },
    });
    expect(settings.status, JSON.stringify(settings.json)).toBe(200);
    // Two confirmed subscribers: Italian e-mail, and SMS (priced, so the estimate has a cost).
    await t.database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, regions, confirmed_at, sms_entitled, created_at)
       values ($1, 'sub_it', 'email', 'giulia@example.com', 'it', '{milan}', now(), false, now()),
              ($1, 'sub_sms', 'sms', '+393471234567', 'it', '{milan}', now(), true, now())`,
      [t.workspaceId],
    );
    await t.call("PUT", "/api/v1/protocols/milan-end-rental", PROTOCOL);
  }, 60_000);
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await smtp?.stop();
    await mastodon.stop();
  });

  it("shows the SMS cost first, then page, subscribers, team and social go out from one call", async () => {
    const dry = await t.call("POST", "/api/v1/protocols/milan-end-rental/start", { dryRun: true });
    expect(dry.json.estimate.recipients).toMatchObject({ email: 2, sms: 1, mastodon: 1 });
    expect(dry.json.estimate.sms.segments).toBeGreaterThanOrEqual(1);
    expect(dry.json.estimate.sms.cost).toEqual([{ amount: expect.any(Number), currency: "EUR" }]);
    expect(dry.json.estimate.sms.cost[0].amount).toBeGreaterThan(0);

    // The CLI shows the estimate first and, off a terminal, will not send paid SMS without --yes.
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    const cli = (...args: string[]) =>
      run(process.execPath, [
        BIN,
        "--url",
        url,
        "--token",
        t.token,
        "protocol",
        "start",
        "milan-end-rental",
        ...args,
      ]);
    const refused = await cli().catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stdout: string }).stdout).toMatch(/3 recipient\(s\)|4 recipient\(s\)/);
    expect((refused as { stdout: string }).stdout).toMatch(/SMS: 1 message\(s\)/);
    expect((refused as { stderr: string }).stderr).toContain("--yes");
    expect((await t.call("GET", "/api/v1/incidents")).json.incidents).toHaveLength(0);

    const byCli = await cli("--yes");
    expect(byCli.stdout).toMatch(
      /Started milan-end-rental: inc_\w+ "Rentals cannot be ended in Milan" on end-rental-milan=major_outage/,
    );
    const started = await t.call("POST", "/api/v1/protocols/milan-end-rental/start", {});
    expect(started.json.alreadyOpen).toBe(true);
    const id = started.json.incident.id;
    // The page at once.
    const summary = await t.app.inject({ url: "/api/v2/summary.json" });
    expect(summary.json().incidents[0].id).toBe(id);
    await notifier.dispatch();
    await until(
      "subscriber, team and social all reached",
      () =>
        smtp.received.some((m) => m.to.includes("giulia@example.com")) &&
        smtp.received.some((m) => m.to.includes("ops@fleet.test")) &&
        mastodon.statuses.length === 1,
      30_000,
    );
    const giulia = textOf(smtp.received.find((m) => m.to.includes("giulia@example.com"))!);
    expect(giulia).toContain("Parcheggia l'auto in sicurezza");
    expect(giulia).toContain(
      "Serve aiuto? Chiedi di essere richiamato: Callback: https://fleet.test/callback",
    );
    // The protocol's own words, framed by the channel (company and title above, the link below).
    expect(mastodon.statuses[0]!.status).toContain(PROTOCOL.social);
    expect(mastodon.statuses[0]!.status).not.toContain(PROTOCOL.body);
  }, 60_000);
});
