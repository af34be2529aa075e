import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messageId, smtpSender } from "../../../src/notifications/channels/email.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { decodeWords, leaves, SmtpFake } from "../../support/fakes/smtp.ts";

const base: OutgoingMessage = {
  idempotencyKey: "evt_01:cust_42:email",
  channel: "email",
  address: "giulia@example.it",
  locale: "it",
  event: "incident.opened",
  subject: "Disservizio in corso: città e qualità ridotte — Störung in Köln",
  text: "La linea è interrotta a Milano.\nDettagli: https://status.example.com/it/incidents/1",
  html: "<p>La linea è <strong>interrotta</strong> a Milano.</p>",
  url: "https://status.example.com/it/incidents/1",
  unsubscribeUrl: "https://status.example.com/unsubscribe?t=abc.def",
};

describe("email over SMTP", () => {
  const smtp = new SmtpFake();
  let sender: ReturnType<typeof smtpSender>;
  beforeAll(async () => {
    await smtp.start();
    sender = smtpSender({ url: smtp.url, from: "Amends Status <status@example.com>" });
  });
  afterAll(async () => {
    await sender.close?.();
    await smtp.stop();
  });

  it("sends text and html with a key-derived Message-ID and RFC 8058 unsubscribe headers", async () => {
    const result = await sender.send(base);
    expect(result.provider).toBe("smtp");
    const mail = smtp.received.at(-1)!;
    expect(mail.to).toEqual(["giulia@example.it"]);
    expect(mail.from).toBe("status@example.com");
    const h = mail.message.headers;
    expect(h.get("message-id")).toBe(messageId(base.idempotencyKey, "example.com"));
    expect(h.get("message-id")).toMatch(/^<[0-9a-f]{32}@example\.com>$/);
    expect(result.providerMessageId).toBe(h.get("message-id"));
    expect(h.get("list-unsubscribe")).toBe("<https://status.example.com/unsubscribe?t=abc.def>");
    expect(h.get("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    expect(decodeWords(h.get("subject")!)).toBe(base.subject);
    expect(h.get("subject")).not.toMatch(/[^\x20-\x7e]/); // encoded as RFC 2047, not raw 8-bit
    const parts = leaves(mail.message);
    const text = parts.find((p) => p.headers.get("content-type")?.startsWith("text/plain"));
    const html = parts.find((p) => p.headers.get("content-type")?.startsWith("text/html"));
    expect(text?.headers.get("content-type")).toContain("charset=utf-8");
    expect(text?.body).toBe(base.text);
    expect(html?.body).toBe(base.html);
  });

  it("gives a retry the same Message-ID and omits unsubscribe headers when there is no link", async () => {
    await sender.send({ ...base, unsubscribeUrl: undefined, html: undefined });
    await sender.send({ ...base, unsubscribeUrl: undefined, html: undefined });
    const [a, b] = smtp.received.slice(-2);
    expect(a!.message.headers.get("message-id")).toBe(b!.message.headers.get("message-id"));
    expect(a!.message.headers.has("list-unsubscribe")).toBe(false);
    expect(a!.message.headers.has("list-unsubscribe-post")).toBe(false);
    expect(a!.message.body).toBe(base.text); // a single text/plain part
  });

  it("treats a 550 on RCPT as a hard bounce to suppress", async () => {
    smtp.rejectRecipients.set("gone@example.de", "550 5.1.1 Mailbox unavailable");
    const err = await sender.send({ ...base, address: "gone@example.de" }).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect(err.suppress).toBe(true);
    expect(err.message).toContain("550");
  });

  it("treats a 450 on RCPT as transient", async () => {
    smtp.rejectRecipients.set("busy@example.de", "450 4.2.1 Mailbox busy, try later");
    const err = await sender.send({ ...base, address: "busy@example.de" }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentFailure);
  });

  it("treats a server that is down as transient", async () => {
    const down = smtpSender({ url: "smtp://127.0.0.1:1", from: "status@example.com", timeoutMs: 2000 });
    const err = await down.send(base).catch((e) => e);
    await down.close?.();
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentFailure);
  });
});
