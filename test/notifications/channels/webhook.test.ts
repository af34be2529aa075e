import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { webhookSender } from "../../../src/notifications/channels/webhook.ts";
import { WebhookReceiver } from "../../support/fakes/webhook-receiver.ts";

const secret = `whsec_${Buffer.from("a-32-byte-secret-for-the-tests!!").toString("base64")}`;

describe("webhook (Standard Webhooks)", () => {
  const receiver = new WebhookReceiver(secret);
  const sender = webhookSender({ timeoutMs: 800, allowPrivateTargets: true });
  let message: OutgoingMessage;
  beforeAll(async () => {
    await receiver.start();
    message = {
      idempotencyKey: "evt_1:cust_2:webhook",
      channel: "webhook",
      address: `${receiver.url}/hooks/amends`,
      locale: "en",
      event: "incident.opened",
      subject: "Outage",
      text: "Outage",
      data: { incident: { id: "inc_1", title: "Fibre cut", components: ["fibre"] } },
      secrets: { webhook_secret: secret },
    };
  });
  afterEach(() => receiver.recover());
  afterAll(() => receiver.stop());

  it("posts {type, timestamp, data} with a signature the standard library verifies", async () => {
    const result = await sender.send(message);
    expect(result).toEqual({ provider: "webhook", providerMessageId: message.idempotencyKey });
    const req = receiver.requests.at(-1)!;
    expect(req.path).toBe("/hooks/amends");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["webhook-id"]).toBe(message.idempotencyKey);
    expect(req.headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
    expect(req.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const delivery = receiver.deliveries.at(-1)!;
    expect(delivery.payload).toEqual({
      type: "incident.opened",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: message.data,
    });
    expect(receiver.rejected).toEqual([]);
  });

  it("keeps webhook-id across retries so the receiver can deduplicate", async () => {
    const retry = { ...message, idempotencyKey: "evt_1:cust_3:webhook" };
    await sender.send(retry);
    await sender.send(retry);
    const deliveries = receiver.deliveries.filter((d) => d.id === retry.idempotencyKey);
    expect(deliveries).toHaveLength(2);
    expect(receiver.events.get(retry.idempotencyKey)).toEqual(deliveries[0]!.payload);
  });

  it("a receiver with another secret rejects the signature", async () => {
    const other = {
      ...message,
      secrets: { webhook_secret: `whsec_${Buffer.from("x".repeat(32)).toString("base64")}` },
    };
    const err = await sender.send(other).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure); // 401 from the receiver
    expect(receiver.rejected.at(-1)!.reason).toBe("No matching signature found");
  });

  it("410 suppresses, other 4xx fail permanently, 5xx and timeouts are transient", async () => {
    receiver
      .fail(410, { times: 1 })
      .fail(400, { times: 1 })
      .fail(503, { times: 1 })
      .fail("timeout", { times: 1 });
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push(await sender.send(message).catch((e) => e));
    expect(errors[0]).toBeInstanceOf(PermanentFailure);
    expect(errors[0].suppress).toBe(true);
    expect(errors[1]).toBeInstanceOf(PermanentFailure);
    expect(errors[1].suppress).toBe(false);
    for (const err of errors.slice(2)) {
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PermanentFailure);
    }
  });

  it("does not follow redirects", async () => {
    receiver.fail({ status: 301, headers: { location: "http://169.254.169.254/" }, body: "" }, { times: 1 });
    const err = await sender.send(message).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect(err.message).toContain("301");
    expect(receiver.requests.at(-1)!.outcome).toBe(301);
  });

  it("fails permanently without a signing secret", async () => {
    await expect(sender.send({ ...message, secrets: {} })).rejects.toBeInstanceOf(PermanentFailure);
  });
});
