import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { httpSmsSender } from "../../../src/notifications/channels/http-sms.ts";
import { twilioSender } from "../../../src/notifications/channels/twilio.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { HttpSmsFake } from "../../support/fakes/http-sms.ts";
import { TwilioFake } from "../../support/fakes/twilio.ts";

const sms: OutgoingMessage = {
  idempotencyKey: "evt_7:cust_9:sms",
  channel: "sms",
  address: "+393471234567",
  locale: "it",
  event: "incident.opened",
  subject: "Disservizio",
  text: "Amends: linea interrotta a Milano, stimato ripristino 18:00. https://s.example.com/i/1",
};

const transient = (err: unknown) => err instanceof Error && !(err instanceof PermanentFailure);

describe("sms via Twilio", () => {
  const twilio = new TwilioFake();
  let sender: ReturnType<typeof twilioSender>;
  beforeAll(async () => {
    await twilio.start();
    sender = twilioSender({
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      from: "+15005550006",
      apiBase: twilio.url,
      statusCallback: "https://amends.example.com/hooks/twilio",
      timeoutMs: 800,
    });
  });
  afterEach(() => twilio.recover());
  afterAll(() => twilio.stop());

  it("posts a form with basic auth and returns the message sid", async () => {
    const result = await sender.send(sms);
    const req = twilio.requests.at(-1)!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`);
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(req.form).toEqual({
      To: "+393471234567",
      From: "+15005550006",
      Body: sms.text,
      StatusCallback: "https://amends.example.com/hooks/twilio",
    });
    expect(req.headers["idempotency-key"]).toBeUndefined();
    expect(result).toEqual({ provider: "twilio", providerMessageId: twilio.messages.at(-1)!.sid });
    expect(result.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it("suppresses invalid and unsubscribed numbers", async () => {
    twilio.invalidNumbers.add("+393470000000");
    twilio.unsubscribed.add("+393471111111");
    for (const address of ["+393470000000", "+393471111111"]) {
      const err = await sender.send({ ...sms, address }).catch((e) => e);
      expect(err).toBeInstanceOf(PermanentFailure);
      expect(err.suppress).toBe(true);
    }
    expect(twilio.requests.at(-1)!.outcome).toBe(400);
  });

  it("rejects an impossible number before calling Twilio", async () => {
    const before = twilio.requests.length;
    const err = await sender.send({ ...sms, address: "12345" }).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect(err.suppress).toBe(true);
    expect(twilio.requests.length).toBe(before);
  });

  it("treats 500, 429, timeouts and dropped connections as transient, then recovers", async () => {
    twilio
      .fail(500, { times: 1 })
      .fail(429, { times: 1 })
      .fail("timeout", { times: 1 })
      .fail("reset", { times: 1 });
    for (let i = 0; i < 4; i++) expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
    expect(twilio.requests.slice(-4).map((r) => r.outcome)).toEqual([500, 429, "timeout", "reset"]);
    await expect(sender.send(sms)).resolves.toMatchObject({ provider: "twilio" });
  });

  it("can be down for five minutes of a fake clock", async () => {
    vi.useFakeTimers({ toFake: ["Date"] }); // only the clock: sockets and the request deadline stay real
    try {
      twilio.fail(503, { forMs: 5 * 60_000 });
      expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
      vi.advanceTimersByTime(4 * 60_000);
      expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
      vi.advanceTimersByTime(60_000);
      await expect(sender.send(sms)).resolves.toMatchObject({ provider: "twilio" });
    } finally {
      vi.useRealTimers();
    }
  });

  it("follows a scripted schedule", async () => {
    const start = twilio.requests.length;
    twilio.schedule = (_req, i) => (i - start < 2 ? 429 : undefined);
    expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
    expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
    await expect(sender.send(sms)).resolves.toMatchObject({ provider: "twilio" });
    expect(twilio.requests.slice(start).map((r) => r.outcome)).toEqual([429, 429, 201]);
  });

  it("reports bad credentials as transient, not as the recipient's fault", async () => {
    const wrong = twilioSender({
      accountSid: twilio.accountSid,
      authToken: "nope",
      from: "+15005550006",
      apiBase: twilio.url,
    });
    const err = await wrong.send(sms).catch((e) => e);
    expect(transient(err)).toBe(true);
    expect(err.message).toContain("20003");
  });
});

describe("sms via a generic HTTP API", () => {
  const api = new HttpSmsFake("tok_123");
  beforeAll(() => api.start());
  afterEach(() => api.recover());
  afterAll(() => api.stop());

  it("posts JSON with bearer auth and an Idempotency-Key, and reads the id field", async () => {
    const sender = httpSmsSender({ url: `${api.url}/v1/messages`, token: "tok_123" });
    const result = await sender.send(sms);
    const req = api.requests.at(-1)!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/messages");
    expect(req.headers.authorization).toBe("Bearer tok_123");
    expect(req.headers["idempotency-key"]).toBe(sms.idempotencyKey);
    expect(req.json).toEqual({ to: sms.address, text: sms.text, idempotency_key: sms.idempotencyKey });
    expect(result).toEqual({ provider: "http-sms", providerMessageId: api.messages.at(-1)!.id });
  });

  it("maps field names and a nested response id when configured", async () => {
    const sender = httpSmsSender({
      url: `${api.url}/v1/messages`,
      token: "tok_123",
      provider: "acme-sms",
      fields: { to: "msisdn", text: "message", idempotencyKey: "reference" },
      idField: "data.message_id",
    });
    api.responseShape = (id) => ({ data: { message_id: id } });
    const result = await sender.send({ ...sms, idempotencyKey: "evt_7:cust_10:sms" });
    expect(api.requests.at(-1)!.json).toEqual({
      msisdn: sms.address,
      message: sms.text,
      reference: "evt_7:cust_10:sms",
    });
    expect(result).toEqual({ provider: "acme-sms", providerMessageId: api.messages.at(-1)!.id });
  });

  it("replays the same message for the same Idempotency-Key", async () => {
    const sender = httpSmsSender({ url: `${api.url}/v1/messages`, token: "tok_123" });
    const key = { ...sms, idempotencyKey: "evt_8:cust_9:sms" };
    const [a, b] = [await sender.send(key), await sender.send(key)];
    expect(a.providerMessageId).toBe(b.providerMessageId);
    expect(api.messages.filter((m) => m.idempotencyKey === key.idempotencyKey)).toHaveLength(1);
  });

  it("4xx is permanent, 5xx and timeouts are transient", async () => {
    const sender = httpSmsSender({ url: `${api.url}/v1/messages`, token: "tok_123", timeoutMs: 800 });
    api.fail(422, { times: 1 });
    expect(await sender.send(sms).catch((e) => e)).toBeInstanceOf(PermanentFailure);
    api.fail(502, { times: 1 }).fail("timeout", { times: 1 });
    expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
    expect(transient(await sender.send(sms).catch((e) => e))).toBe(true);
  });
});
