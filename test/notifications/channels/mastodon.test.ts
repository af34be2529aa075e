import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mastodonSender } from "../../../src/notifications/channels/mastodon.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { MastodonFake, mastodonLength } from "../../support/fakes/mastodon.ts";

const post: OutgoingMessage = {
  idempotencyKey: "evt_5:public:mastodon",
  channel: "mastodon",
  address: "",
  locale: "it-IT",
  event: "incident.opened",
  subject: "Disservizio",
  text: "Disservizio sulla rete fibra a Milano: stiamo lavorando per risolvere.",
  url: "https://status.example.com/it/incidents/5?utm_source=mastodon&utm_medium=social&utm_campaign=incidents",
};

describe("mastodon", () => {
  const fake = new MastodonFake();
  let sender: ReturnType<typeof mastodonSender>;
  beforeAll(async () => {
    await fake.start();
    sender = mastodonSender({ instanceUrl: fake.url, accessToken: fake.token, timeoutMs: 800 });
  });
  afterEach(() => fake.recover());
  afterAll(() => fake.stop());

  it("posts a public status in the message's language with an Idempotency-Key", async () => {
    const result = await sender.send(post);
    const req = fake.requests.at(-1)!;
    expect(req.headers.authorization).toBe(`Bearer ${fake.token}`);
    expect(req.headers["idempotency-key"]).toBe(post.idempotencyKey);
    expect(req.json).toEqual({ status: `${post.text}\n${post.url}`, visibility: "public", language: "it" });
    expect(result).toEqual({ provider: "mastodon", providerMessageId: fake.statuses.at(-1)!.id });
  });

  it("a retry with the same key gets the same status, not a second post", async () => {
    const again = { ...post, idempotencyKey: "evt_6:public:mastodon" };
    const a = await sender.send(again);
    const b = await sender.send(again);
    expect(b.providerMessageId).toBe(a.providerMessageId);
    expect(fake.statuses.filter((s) => s.idempotencyKey === again.idempotencyKey)).toHaveLength(1);
  });

  it("cuts long text to 500 characters and keeps the whole link last", async () => {
    const long = { ...post, idempotencyKey: "evt_7:public:mastodon", text: `${"è ".repeat(400)}fine` };
    await sender.send(long);
    const status = fake.statuses.at(-1)!.status;
    expect(status.endsWith(`…\n${post.url}`)).toBe(true);
    expect(mastodonLength(status)).toBeLessThanOrEqual(500);
    expect(mastodonLength(status)).toBeGreaterThan(490);
  });

  it("422 is permanent; 429, 503 and timeouts are transient", async () => {
    fake
      .fail(422, { times: 1 })
      .fail(429, { times: 1 })
      .fail(503, { times: 1 })
      .fail("timeout", { times: 1 });
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push(await sender.send(post).catch((e) => e));
    expect(errors[0]).toBeInstanceOf(PermanentFailure);
    for (const err of errors.slice(1)) {
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PermanentFailure);
    }
  });
});
