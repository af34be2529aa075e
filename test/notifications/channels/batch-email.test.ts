/**
 * The batch e-mail senders alone, against fakes speaking Postmark's and SendGrid's wire formats:
 * what each per-message answer means (sent, suppress, fail over, try again), and that a request
 * refused as a whole is a transient error for every message, never blamed on a recipient.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { amendsId } from "../../../src/notifications/channels/email.ts";
import { postmarkSender } from "../../../src/notifications/channels/postmark.ts";
import { fromObject, sendGridSender } from "../../../src/notifications/channels/sendgrid.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { PostmarkFake } from "../../support/fakes/postmark.ts";
import { SendGridFake } from "../../support/fakes/sendgrid.ts";

const message = (address: string, locale = "en"): OutgoingMessage => ({
  idempotencyKey: `incident:X:upd_1:subscriber:${address}:email`,
  channel: "email",
  address,
  locale,
  event: "incident.opened",
  subject: locale === "it" ? "Disservizio: città senza corse" : "Outage: no rides",
  text: `Details.\n\nUnsubscribe: https://status.example.com/unsubscribe?t=${address}&x=1`,
  html: `<p>Details.</p><p><a href="https://status.example.com/unsubscribe?t=${address}&amp;x=1">…</a></p>`,
  unsubscribeUrl: `https://status.example.com/unsubscribe?t=${address}&x=1`,
});

describe("Postmark's batch answers", () => {
  const fake = new PostmarkFake();
  let sender: ReturnType<typeof postmarkSender>;
  beforeAll(async () => {
    await fake.start();
    sender = postmarkSender({
      serverToken: fake.serverToken,
      from: "Status <s@example.com>",
      apiBase: fake.url,
    });
  });
  afterAll(() => fake.stop());

  it("maps each message's ErrorCode: 0 sent, 406 suppress, 300 fail over; a bad mailbox never leaves", async () => {
    fake.inactive.add("gone@example.com");
    const results = await sender.sendBatch!([
      message("ok@example.com"),
      message("gone@example.com"),
      message("a@example.com, b@example.com"),
    ]);
    expect(results[0]).toMatchObject({
      provider: "postmark",
      providerMessageId: fake.messages.at(-1)!.MessageID,
    });
    expect(results[1]).toBeInstanceOf(PermanentFailure);
    expect((results[1] as PermanentFailure).suppress).toBe(true);
    expect(results[2]).toBeInstanceOf(PermanentFailure); // refused before the request
    expect(fake.requests.at(-1)!.json).toHaveLength(2);
    expect(fake.messages.at(-1)!.Metadata).toEqual({
      amends_id: amendsId(message("ok@example.com").idempotencyKey),
    });
    // A message Postmark finds malformed (300): failed over, the address kept.
    const noBody = await sender.sendBatch!([{ ...message("x@example.com"), text: "", html: undefined }]);
    expect(noBody[0]).toBeInstanceOf(PermanentFailure);
    expect((noBody[0] as PermanentFailure).suppress).toBe(false);
  });

  it("treats a refused request (bad token, 5xx) as transient for all, in our words", async () => {
    const wrong = postmarkSender({ serverToken: "nope", from: "s@example.com", apiBase: fake.url });
    const err = await wrong.sendBatch!([message("ok@example.com")]).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentFailure);
    expect(err.message).toBe("postmark answered 401 (ErrorCode 10)");
    fake.fail(500, { times: 1 });
    const down = await sender.send(message("ok@example.com")).catch((e) => e);
    expect(down).not.toBeInstanceOf(PermanentFailure);
  });
});

describe("SendGrid's mail send answers", () => {
  const fake = new SendGridFake();
  let sender: ReturnType<typeof sendGridSender>;
  beforeAll(async () => {
    await fake.start();
    sender = sendGridSender({
      apiKey: fake.apiKey,
      from: '"Status Team" <s@example.com>',
      apiBase: fake.url,
    });
  });
  afterAll(() => fake.stop());

  it("groups by shared content, puts each address once per request, substitutes each link", async () => {
    const before = fake.requests.length;
    const results = await sender.sendBatch!([
      message("a@example.com"),
      message("b@example.com"),
      message("c@example.com", "it"),
      { ...message("a@example.com"), idempotencyKey: "other-event" }, // same address: its own request
    ]);
    expect(results.every((r) => !(r instanceof Error))).toBe(true);
    const requests = fake.requests.slice(before);
    expect(requests.map((r) => r.json.personalizations.length).sort()).toEqual([1, 1, 2]);
    expect(requests[0]!.json.from).toEqual({ email: "s@example.com", name: "Status Team" });
    const b = fake.messages.find((m) => m.to === "b@example.com")!;
    expect(b.text).toContain("unsubscribe?t=b@example.com&x=1");
    expect(b.html).toContain("unsubscribe?t=b@example.com&amp;x=1");
    expect(fake.messages.find((m) => m.to === "c@example.com")!.subject).toBe(
      "Disservizio: città senza corse",
    );
  });

  it("fails only the address a 400 names, and a refused request is transient", async () => {
    fake.invalid.add("bad@example.com");
    const results = await sender.sendBatch!([message("x@example.com"), message("bad@example.com")]);
    expect(results[0]).toMatchObject({ provider: "sendgrid" });
    expect((results[1] as PermanentFailure).suppress).toBe(true);
    fake.fail(503, { times: 1 });
    const down = await sender.sendBatch!([message("y@example.com")]);
    expect(down[0]).toBeInstanceOf(Error);
    expect(down[0]).not.toBeInstanceOf(PermanentFailure);
    expect((down[0] as Error).message).toBe("sendgrid answered 503");
  });

  it("reads a From with or without a display name", () => {
    expect(fromObject("s@example.com")).toEqual({ email: "s@example.com" });
    expect(fromObject("Status <s@example.com>")).toEqual({ email: "s@example.com", name: "Status" });
  });
});
