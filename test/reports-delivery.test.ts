/**
 * "I am affected" through the real notifier: the reporter's acknowledgement e-mail in their
 * language, and the team's alert when reports pile up on a component with no incident.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smtpSender } from "../src/notifications/channels/email.ts";
import { type Notifier, startNotifier } from "../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "./support/app.ts";
import { decodeWords, leaves, SmtpFake } from "./support/fakes/smtp.ts";
import { until } from "./support/until.ts";

describe("I am affected, delivered", () => {
  let t: TestApp;
  let smtp: SmtpFake;
  let notifier: Notifier;
  let clock = Date.parse("2026-12-01T10:00:00Z");
  const now = () => new Date(clock);
  const mailTo = (address: string) => smtp.received.filter((m) => m.to.includes(address));

  beforeAll(async () => {
    smtp = await new SmtpFake().start();
    const channels = { email: [smtpSender({ url: smtp.url, from: "status@fleet.test" })] };
    t = await startTestApp("pglite", { channels, now });
    notifier = await startNotifier(t.database, { channels, now });
    await t.call("POST", "/api/v1/components", { id: "payments", name: "Payments" });
    await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "http://status.fleet.test",
      team: [{ channel: "email", address: "ops@fleet.test" }],
      reports: { threshold: 2, window_minutes: 10 },
    });
  });
  afterAll(async () => {
    await notifier?.stop();
    await t?.close();
    await smtp?.stop();
  });

  it("acknowledges by e-mail in the reader's language and alerts the team once", async () => {
    for (const [ip, contact] of [
      ["10.0.0.1", "anna@example.com"],
      ["10.0.0.2", "luca@example.com"],
      ["10.0.0.3", "gio@example.com"],
    ]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/v1/public/reports",
        remoteAddress: ip,
        payload: { component: "payments", contact, text: "carta rifiutata", locale: "it" },
      });
      expect(res.statusCode, res.body).toBe(201);
      clock += 30_000;
    }
    await notifier.dispatch();
    await until("the acknowledgements and the alert", () => smtp.received.length >= 4);
    const ack = mailTo("anna@example.com");
    expect(ack).toHaveLength(1);
    expect(decodeWords(ack[0]!.message.headers.get("subject") ?? "")).toContain(
      "abbiamo ricevuto la tua segnalazione",
    );
    expect(
      leaves(ack[0]!.message)
        .map((p) => p.body)
        .join("\n"),
    ).toContain("abbiamo passato la tua segnalazione");
    const alert = mailTo("ops@fleet.test");
    expect(alert).toHaveLength(1);
    expect(decodeWords(alert[0]!.message.headers.get("subject") ?? "")).toContain(
      "customers report problems with Payments",
    );
    expect(
      leaves(alert[0]!.message)
        .map((p) => p.body)
        .join("\n"),
    ).toContain("2 reports in the last 10 minutes");
  });
});
