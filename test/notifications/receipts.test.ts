/**
 * Delivery receipts and bounces: Twilio's signed status callbacks mark messages delivered or
 * bounced and suppress numbers that will never receive; a hard e-mail bounce suppresses too.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";

const TOKEN = "twilio-auth-token";
const CALLBACK = "https://amends.example.com/api/v1/hooks/twilio/status";
// As Twilio signs: HMAC-SHA1 over the URL and the sorted parameters.
const sign = (params: Record<string, string>) =>
  createHmac("sha1", TOKEN)
    .update(
      Object.keys(params)
        .sort()
        .reduce((a, k) => a + k + params[k], CALLBACK),
    )
    .digest("base64");

describe("receipts and bounces", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp("pglite", { receipts: { twilio: { authToken: TOKEN, callbackUrl: CALLBACK } } });
    await t.database.query(
      `insert into outbox_messages (workspace_id, id, idempotency_key, event, locale, template, payload, status, created_at)
       values ($1, 'msg_1', 'incident:X:upd_1', 'incident.opened', 'en', 'incident.opened', '{}', 'done', now())`,
      [t.workspaceId],
    );
    await t.database.query(
      `insert into deliveries (workspace_id, event_id, recipient, channel, address, locale, status, provider, provider_message_id, updated_at)
       values ($1, 'msg_1', 'subscriber:a', 'sms', '+393471234567', 'en', 'sent', 'twilio', 'SM1', now()),
              ($1, 'msg_1', 'subscriber:b', 'sms', '+393471234568', 'en', 'sent', 'twilio', 'SM2', now())`,
      [t.workspaceId],
    );
  });
  afterAll(() => t.close());

  const callback = (params: Record<string, string>, signature = sign(params)) =>
    t.app.inject({
      method: "POST",
      url: "/api/v1/hooks/twilio/status",
      payload: new URLSearchParams(params).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    });
  const status = async (id: string) =>
    (
      await t.database.query<{ status: string }>(
        "select status from deliveries where provider_message_id = $1",
        [id],
      )
    )[0]!.status;
  const suppressed = async () =>
    (await t.database.query<{ address: string }>("select address from suppressions order by address")).map(
      (r) => r.address,
    );

  it("refuses a callback whose signature does not match", async () => {
    const res = await callback({ MessageSid: "SM1", MessageStatus: "delivered" }, "forged");
    expect(res.statusCode).toBe(403);
    expect(await status("SM1")).toBe("sent");
  });

  it("marks delivered, and bounces with suppression on a hard error", async () => {
    expect(
      (await callback({ MessageSid: "SM1", MessageStatus: "delivered", AccountSid: "AC1" })).statusCode,
    ).toBe(204);
    expect(await status("SM1")).toBe("delivered");
    expect(
      (await callback({ MessageSid: "SM2", MessageStatus: "undelivered", ErrorCode: "30005" })).statusCode,
    ).toBe(204);
    expect(await status("SM2")).toBe("bounced");
    expect(await suppressed()).toEqual(["+393471234568"]);
  });

  it("suppresses hard e-mail bounces and complaints, not soft ones", async () => {
    for (const [address, type] of [
      ["gone@example.com", "hard"],
      ["busy@example.com", "soft"],
      ["angry@example.com", "complaint"],
    ])
      expect(
        (await t.call("POST", "/api/v1/hooks/bounces", { channel: "email", address, type })).status,
      ).toBe(204);
    expect(await suppressed()).toEqual(["+393471234568", "angry@example.com", "gone@example.com"]);
    const bad = await t.call("POST", "/api/v1/hooks/bounces", {
      channel: "email",
      address: "x@example.com",
      type: "x",
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain("type");
  });
});
