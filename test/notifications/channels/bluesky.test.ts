import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { blueskySender, tidFromKey } from "../../../src/notifications/channels/bluesky.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { BlueskyFake } from "../../support/fakes/bluesky.ts";

const post: OutgoingMessage = {
  idempotencyKey: "evt_9:public:bluesky",
  channel: "bluesky",
  address: "",
  locale: "de",
  event: "incident.opened",
  subject: "Störung",
  text: "Störung im Glasfasernetz in Köln – wir arbeiten daran 🛠️",
  url: "https://status.example.com/de/incidents/9",
};

const graphemes = (s: string) =>
  [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s)].length;

describe("bluesky", () => {
  const pds = new BlueskyFake();
  let sender: ReturnType<typeof blueskySender>;
  beforeAll(async () => {
    await pds.start();
    sender = blueskySender({
      service: pds.url,
      identifier: pds.handle,
      appPassword: pds.appPassword,
      timeoutMs: 800,
    });
  });
  afterEach(() => pds.recover());
  afterAll(() => pds.stop());

  it("logs in once and posts with a TID rkey from the key and a link facet in UTF-8 bytes", async () => {
    const result = await sender.send(post);
    const rkey = tidFromKey(post.idempotencyKey);
    expect(rkey).toMatch(/^[2-7a-j][2-7a-z]{12}$/);
    expect(result).toEqual({
      provider: "bluesky",
      providerMessageId: `at://${pds.did}/app.bsky.feed.post/${rkey}`,
    });
    const req = pds.requests.at(-1)!;
    expect(req.path).toBe("/xrpc/com.atproto.repo.createRecord");
    expect(req.json).toMatchObject({ repo: pds.did, collection: "app.bsky.feed.post", rkey });
    const record = pds.posts.get(rkey)!.record;
    expect(record).toMatchObject({
      $type: "app.bsky.feed.post",
      text: `${post.text}\n${post.url}`,
      langs: ["de"],
    });
    expect(Date.parse(record.createdAt)).not.toBeNaN();
    const [facet] = record.facets;
    const bytes = Buffer.from(record.text, "utf8");
    expect(bytes.subarray(facet.index.byteStart, facet.index.byteEnd).toString("utf8")).toBe(post.url);
    expect(facet.index.byteStart).toBeGreaterThan(record.text.indexOf(post.url!)); // ö, –, 🛠️ are multi-byte
    expect(facet.features).toEqual([{ $type: "app.bsky.richtext.facet#link", uri: post.url }]);
    await sender.send({ ...post, idempotencyKey: "evt_10:public:bluesky" });
    expect(pds.sessionsCreated).toBe(1);
  });

  it("a retry names the same record: the PDS refuses it and the sender reports the earlier post", async () => {
    const first = await sender.send({ ...post, idempotencyKey: "evt_11:public:bluesky" });
    const again = await sender.send({ ...post, idempotencyKey: "evt_11:public:bluesky" });
    expect(again).toEqual(first);
    expect(pds.requests.filter((r) => r.outcome === 500)).toHaveLength(1); // today's PDS answer to a duplicate
    pds.duplicateError = "RecordAlreadyExists";
    await expect(sender.send({ ...post, idempotencyKey: "evt_11:public:bluesky" })).resolves.toEqual(first);
    pds.duplicateError = undefined;
    expect([...pds.posts.values()].filter((p) => p.uri === first.providerMessageId)).toHaveLength(1);
  });

  it("logs in again when the access token expired", async () => {
    const before = pds.sessionsCreated;
    pds.expireSessions();
    await sender.send({ ...post, idempotencyKey: "evt_12:public:bluesky" });
    expect(pds.sessionsCreated).toBe(before + 1);
    expect(pds.requests.some((r) => r.outcome === 400 && r.path.endsWith("createRecord"))).toBe(true);
  });

  it("keeps posts within 300 graphemes with the whole link", async () => {
    const long = { ...post, idempotencyKey: "evt_13:public:bluesky", text: "👩‍👩‍👧 ".repeat(400) };
    const result = await sender.send(long);
    const record = [...pds.posts.values()].find((p) => p.uri === result.providerMessageId)!.record;
    expect(graphemes(record.text)).toBeLessThanOrEqual(300);
    expect(record.text.endsWith(`…\n${post.url}`)).toBe(true);
  });

  it("rate limits and outages are transient; a wrong app password too (it is ours to fix)", async () => {
    pds.fail(429, { times: 1, match: (r) => r.path.endsWith("createRecord") });
    const limited = await sender.send({ ...post, idempotencyKey: "evt_14:public:bluesky" }).catch((e) => e);
    expect(limited).not.toBeInstanceOf(PermanentFailure);
    expect(limited.message).toContain("RateLimitExceeded");
    const wrong = blueskySender({ service: pds.url, identifier: pds.handle, appPassword: "nope" });
    const err = await wrong.send(post).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentFailure);
  });
});
