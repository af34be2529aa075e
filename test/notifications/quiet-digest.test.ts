/**
 * Quiet hours and digests hold: at night a subscriber's messages wait for the morning (critical
 * news passes at once), and a digest subscriber gets one message folding the updates of its window.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smtpSender } from "../../src/notifications/channels/email.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { decodeWords, type SmtpFake as Smtp, SmtpFake } from "../support/fakes/smtp.ts";
import { until } from "../support/until.ts";

describe("quiet hours and digests", () => {
  let t: TestApp;
  let smtp: Smtp;
  let notifier: Notifier;
  // 23:30 in Rome, a winter night.
  let clock = Date.parse("2026-01-10T22:30:00Z");
  const now = () => new Date(clock);
  const to = (address: string) => smtp.received.filter((m) => m.to.includes(address));
  const held = async () =>
    (
      await t.database.query<{ n: number }>("select count(*)::int as n from deliveries where status = 'held'")
    )[0]!.n;

  beforeAll(async () => {
    smtp = await new SmtpFake().start();
    const channels = { email: [smtpSender({ url: smtp.url, from: "status@fleet.test" })] };
    t = await startTestApp("pglite", { channels, now });
    notifier = await startNotifier(t.database, { channels, now });
    await t.call("POST", "/api/v1/components", { id: "charging", name: "Charging" });
    await t.call("PUT", "/api/v1/notification-settings", { public_url: "http://status.fleet.test" });
    await t.database.query(
      `insert into subscribers (workspace_id, id, channel, address, locale, quiet_hours, digest_minutes, confirmed_at, created_at)
       values ($1, 'sub_quiet', 'email', 'night@example.com', 'en', '{"start":"22:00","end":"07:00","time_zone":"Europe/Rome"}', null, now(), now()),
              ($1, 'sub_digest', 'email', 'digest@example.com', 'en', null, 30, now(), now())`,
      [t.workspaceId],
    );
  });
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await smtp?.stop();
  });

  const post = async (path: string, body: unknown) => {
    const res = await t.call("POST", path, body);
    expect(res.status, JSON.stringify(res.json)).toBeLessThan(300);
    await notifier.dispatch();
  };

  it("holds at night and in the digest window, then sends one message each", async () => {
    await post("/api/v1/incidents", {
      id: "INC-NIGHT",
      title: "Chargers offline",
      body: "Investigating.",
      impact: "major",
      components: [{ id: "charging", status: "partial_outage" }],
    });
    await until("two held messages", async () => (await held()) === 2);
    clock += 10 * 60_000;
    await post("/api/v1/incidents/INC-NIGHT/updates", { body: "Found the cause.", status: "identified" });
    await until("four held messages", async () => (await held()) === 4);
    expect(smtp.received).toHaveLength(0);

    // The digest window (30 min from the first message) closes first: one message with both updates.
    clock += 25 * 60_000;
    expect(await notifier.release()).toBe(1);
    expect(to("digest@example.com")).toHaveLength(1);
    const digest = to("digest@example.com")[0]!;
    expect(decodeWords(digest.message.headers.get("subject")!)).toBe("The Fleet: 2 updates");
    expect(digest.raw).toContain("Found the cause.");
    expect(to("night@example.com")).toHaveLength(0);

    // Critical news is not held, even at night.
    await post("/api/v1/incidents", {
      id: "INC-FIRE",
      title: "Depot fire: do not return cars to the depot",
      body: "Leave cars in the street.",
      impact: "critical",
      components: [{ id: "charging", status: "major_outage" }],
    });
    await until("the critical message", () => to("night@example.com").length === 1);
    expect(decodeWords(to("night@example.com")[0]!.message.headers.get("subject")!)).toContain("Depot fire");

    // 07:00 in Rome: the night's held messages go out as one.
    clock = Date.parse("2026-01-11T06:00:00Z");
    expect(await notifier.release()).toBeGreaterThanOrEqual(1);
    expect(to("night@example.com")).toHaveLength(2);
    expect(decodeWords(to("night@example.com")[1]!.message.headers.get("subject")!)).toBe(
      "The Fleet: 2 updates",
    );
    expect(await notifier.release()).toBe(0); // nothing twice
  }, 60_000);
});
