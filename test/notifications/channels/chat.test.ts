import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { discordSender, slackSender, teamsSender } from "../../../src/notifications/channels/chat.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { ChatFake } from "../../support/fakes/chat.ts";

const chat = new ChatFake();
beforeAll(() => chat.start());
afterEach(() => chat.recover());
afterAll(() => chat.stop());

const msg = (address: string, over: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  idempotencyKey: "evt_3:team_1:slack",
  channel: "slack",
  address,
  locale: "en",
  event: "incident.opened",
  subject: "Fibre outage in <Milan> & Turin",
  text: "Customers in Milan & Turin cannot connect.",
  url: "https://status.example.com/incidents/3",
  ...over,
});

const transient = (err: unknown) => err instanceof Error && !(err instanceof PermanentFailure);

describe("slack", () => {
  const sender = slackSender({ timeoutMs: 800, allowPrivateTargets: true });

  it("posts text and an mrkdwn section with an escaped heading and a link", async () => {
    const url = chat.slackUrl();
    await expect(sender.send(msg(url))).resolves.toEqual({ provider: "slack", providerMessageId: undefined });
    const post = chat.posts.at(-1)!;
    expect(post.service).toBe("slack");
    expect(post.body.text).toBe(
      "Fibre outage in &lt;Milan&gt; &amp; Turin https://status.example.com/incidents/3",
    );
    expect(post.body.blocks).toEqual([
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: "*Fibre outage in &lt;Milan&gt; &amp; Turin*\nCustomers in Milan &amp; Turin cannot connect.\n<https://status.example.com/incidents/3|https://status.example.com/incidents/3>",
        },
      },
    ]);
  });

  it("keeps a long body under the 3000-character section limit", async () => {
    await sender.send(msg(chat.slackUrl(), { text: "x".repeat(5000) }));
    expect(chat.posts.at(-1)!.body.blocks[0].text.text.length).toBeLessThanOrEqual(3000);
  });

  it("suppresses a deleted webhook; 429 and 500 are transient", async () => {
    const url = chat.slackUrl();
    chat.gone.add(new URL(url).pathname);
    const err = await sender.send(msg(url)).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect(err.suppress).toBe(true);
    chat.fail({ status: 429, headers: { "retry-after": "30" } }, { times: 1 }).fail(500, { times: 1 });
    const limited = await sender.send(msg(chat.slackUrl())).catch((e) => e);
    expect(transient(limited)).toBe(true);
    expect(limited.message).toContain("retry after 30");
    expect(transient(await sender.send(msg(chat.slackUrl())).catch((e) => e))).toBe(true);
  });
});

describe("discord", () => {
  const sender = discordSender({ timeoutMs: 800, allowPrivateTargets: true });

  it("posts content and an embed, waits for the message id, and never pings anyone", async () => {
    const url = chat.discordUrl();
    const result = await sender.send(msg(url, { channel: "discord" }));
    const req = chat.requests.at(-1)!;
    expect(req.path).toMatch(/\?wait=true$/);
    const post = chat.posts.at(-1)!;
    expect(post.body).toEqual({
      content: "Fibre outage in <Milan> & Turin",
      embeds: [
        {
          title: "Fibre outage in <Milan> & Turin",
          description: "Customers in Milan & Turin cannot connect.",
          url: "https://status.example.com/incidents/3",
        },
      ],
      allowed_mentions: { parse: [] },
    });
    expect(result).toEqual({ provider: "discord", providerMessageId: post.id });
  });

  it("respects the 2000/256/4096 limits", async () => {
    await sender.send(msg(chat.discordUrl(), { subject: "S".repeat(3000), text: "ü".repeat(5000) }));
    const body = chat.posts.at(-1)!.body;
    expect(body.content.length).toBeLessThanOrEqual(2000);
    expect(body.embeds[0].title.length).toBeLessThanOrEqual(256);
    expect(body.embeds[0].description.length).toBeLessThanOrEqual(4096);
    expect(body.embeds[0].description.endsWith("…")).toBe(true);
  });

  it("429 with retry_after is transient; Unknown Webhook is suppressed", async () => {
    chat.fail(429, { times: 1 });
    const err = await sender.send(msg(chat.discordUrl())).catch((e) => e);
    expect(transient(err)).toBe(true);
    expect(err.message).toContain("retry after 1.5");
    const url = chat.discordUrl();
    chat.gone.add(new URL(url).pathname);
    const gone = await sender.send(msg(url)).catch((e) => e);
    expect(gone).toBeInstanceOf(PermanentFailure);
    expect(gone.suppress).toBe(true);
  });
});

describe("teams", () => {
  const sender = teamsSender({ timeoutMs: 800, allowPrivateTargets: true });

  it("posts an Adaptive Card message to a Workflows URL, query string intact", async () => {
    const url = chat.teamsUrl();
    await expect(sender.send(msg(url, { channel: "teams" }))).resolves.toMatchObject({ provider: "teams" });
    expect(chat.requests.at(-1)!.path).toBe(url.slice(chat.url.length));
    const body = chat.posts.at(-1)!.body;
    expect(body.type).toBe("message");
    expect(body.attachments).toHaveLength(1);
    const card = body.attachments[0];
    expect(card.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card.content).toMatchObject({
      type: "AdaptiveCard",
      version: "1.4",
      body: [
        { type: "TextBlock", text: "Fibre outage in <Milan> & Turin", weight: "Bolder", wrap: true },
        { type: "TextBlock", text: "Customers in Milan & Turin cannot connect.", wrap: true },
      ],
      actions: [{ type: "Action.OpenUrl", url: "https://status.example.com/incidents/3" }],
    });
  });

  it("suppresses a deleted workflow; a timeout is transient", async () => {
    const url = chat.teamsUrl();
    chat.gone.add(new URL(url).pathname);
    const err = await sender.send(msg(url)).catch((e) => e);
    expect(err).toBeInstanceOf(PermanentFailure);
    expect(err.suppress).toBe(true);
    chat.fail("timeout", { times: 1 });
    expect(transient(await sender.send(msg(chat.teamsUrl())).catch((e) => e))).toBe(true);
  });
});
