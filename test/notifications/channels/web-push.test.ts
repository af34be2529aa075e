import { createECDH, randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import webpush from "web-push";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { pushTopic, webPushSender } from "../../../src/notifications/channels/web-push.ts";
import { decryptAes128gcm, encryptAes128gcm, PushServiceFake } from "../../support/fakes/push-service.ts";

describe("web push (VAPID, aes128gcm)", () => {
  const push = new PushServiceFake();
  const vapid = { ...webpush.generateVAPIDKeys(), subject: "mailto:ops@example.com" };
  const sender = webPushSender({ vapid, ttlSeconds: 3600, timeoutMs: 800, allowPrivateTargets: true });
  const message = (over: Partial<OutgoingMessage> = {}): OutgoingMessage => {
    const sub = push.subscribe();
    return {
      idempotencyKey: "evt_20:cust_1:web_push",
      channel: "web_push",
      address: sub.endpoint,
      locale: "it",
      event: "incident.opened",
      subject: "Disservizio in corso",
      text: "La linea è interrotta a Milano.",
      url: "https://status.example.com/it/incidents/20",
      secrets: sub.keys,
      ...over,
    };
  };
  beforeAll(() => push.start());
  afterEach(() => push.recover());
  afterAll(() => push.stop());

  it("the fake's RFC 8291 decryption undoes an aes128gcm record", () => {
    const ecdh = createECDH("prime256v1");
    const pub = ecdh.generateKeys();
    const auth = randomBytes(16);
    const body = encryptAes128gcm("ciao è", pub, auth);
    expect(decryptAes128gcm(body, ecdh.getPrivateKey(), pub, auth)).toBe("ciao è");
  });

  it("delivers an encrypted payload the subscriber can decrypt, with VAPID, TTL, Topic and Urgency", async () => {
    const m = message();
    const result = await sender.send(m);
    expect(push.refused).toEqual([]);
    const d = push.deliveries.at(-1)!;
    expect(JSON.parse(d.payload)).toEqual({
      title: "Disservizio in corso",
      body: "La linea è interrotta a Milano.",
      url: "https://status.example.com/it/incidents/20",
      tag: pushTopic(m.idempotencyKey),
      event: "incident.opened",
      lang: "it",
    });
    expect(d.vapid).toMatchObject({ aud: push.url, sub: "mailto:ops@example.com", key: vapid.publicKey });
    expect(d.ttl).toBe(3600);
    expect(d.urgency).toBe("high");
    expect(d.topic).toBe(pushTopic(m.idempotencyKey));
    expect(d.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const req = push.requests.at(-1)!;
    expect(req.headers["content-encoding"]).toBe("aes128gcm");
    expect(req.headers["content-type"]).toBe("application/octet-stream");
    expect(req.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
    expect(req.body.includes(Buffer.from("Milano"))).toBe(false);
    expect(result).toEqual({
      provider: "web_push",
      providerMessageId: expect.stringContaining(`${push.url}/message/`),
    });
  });

  it("a retry carries the same Topic so the service replaces the pending one", async () => {
    const m = message();
    await sender.send(m);
    await sender.send(m);
    const [a, b] = push.deliveries.slice(-2);
    expect(a!.topic).toBe(b!.topic);
    expect(pushTopic("another:key:web_push")).not.toBe(a!.topic);
  });

  it("an expired subscription is suppressed; missing keys too", async () => {
    const m = message();
    push.unsubscribe(m.address);
    const err = await sender.send(m).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect(err.suppress).toBe(true);
    const noKeys = await sender.send(message({ secrets: {} })).catch((e) => e);
    expect(noKeys).toBeInstanceOf(PermanentFailure);
    expect(noKeys.suppress).toBe(true);
  });

  it("a foreign VAPID key is refused (401, transient); 5xx and timeouts are transient", async () => {
    const other = webPushSender({
      vapid: { ...vapid, privateKey: webpush.generateVAPIDKeys().privateKey },
      allowPrivateTargets: true,
    });
    const err = await other.send(message()).catch((e) => e);
    expect(err).not.toBeInstanceOf(PermanentFailure);
    expect(push.refused.at(-1)!.reason).toBe("bad signature");
    push.fail(503, { times: 1 }).fail("timeout", { times: 1 });
    for (let i = 0; i < 2; i++) {
      const e = await sender.send(message()).catch((x) => x);
      expect(e).toBeInstanceOf(Error);
      expect(e).not.toBeInstanceOf(PermanentFailure);
    }
  });
});
