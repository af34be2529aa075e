import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { telegramSender } from "../../../src/notifications/channels/telegram.ts";
import { type OutgoingMessage, PermanentFailure } from "../../../src/notifications/channels/types.ts";
import { TelegramFake } from "../../support/fakes/telegram.ts";

const message: OutgoingMessage = {
  idempotencyKey: "evt_4:cust_5:telegram",
  channel: "telegram",
  address: "987654321",
  locale: "de",
  event: "incident.opened",
  subject: "Störung <Glasfaser> & Kabel",
  text: "Kunden in Köln können sich nicht verbinden (a < b, \"Fehler 'X'\").",
  url: "https://status.example.com/de/incidents/4",
};

describe("telegram", () => {
  const tg = new TelegramFake();
  let sender: ReturnType<typeof telegramSender>;
  beforeAll(async () => {
    await tg.start();
    sender = telegramSender({ botToken: tg.token, apiBase: tg.url, timeoutMs: 800 });
  });
  afterEach(() => tg.recover());
  afterAll(() => tg.stop());

  it("sends escaped HTML with a bold subject, the link and a preview of it", async () => {
    const result = await sender.send(message);
    const req = tg.requests.at(-1)!;
    expect(req.path).toBe(`/bot${tg.token}/sendMessage`);
    expect(req.json).toEqual({
      chat_id: "987654321",
      text: "<b>Störung &lt;Glasfaser&gt; &amp; Kabel</b>\nKunden in Köln können sich nicht verbinden (a &lt; b, &quot;Fehler &#39;X&#39;&quot;).\nhttps://status.example.com/de/incidents/4",
      parse_mode: "HTML",
      link_preview_options: { url: "https://status.example.com/de/incidents/4" },
    });
    const sent = tg.messages.at(-1)!;
    expect(sent.text).toBe(
      "Störung <Glasfaser> & Kabel\nKunden in Köln können sich nicht verbinden (a < b, \"Fehler 'X'\").\nhttps://status.example.com/de/incidents/4",
    );
    expect(result).toEqual({ provider: "telegram", providerMessageId: `987654321:${sent.message_id}` });
  });

  it("plain mode sends no parse_mode and disables previews without a url", async () => {
    const plain = telegramSender({ botToken: tg.token, apiBase: tg.url, parseMode: "none" });
    await plain.send({ ...message, url: undefined });
    expect(tg.requests.at(-1)!.json).toEqual({
      chat_id: "987654321",
      text: `${message.subject}\n${message.text}`,
      link_preview_options: { is_disabled: true },
    });
  });

  it("stays under 4096 characters", async () => {
    await sender.send({ ...message, text: "&".repeat(10_000) });
    expect(tg.messages.at(-1)!.text.length).toBeLessThanOrEqual(4096);
  });

  it("a blocked bot or a missing chat is suppressed", async () => {
    tg.blocked.add("111");
    tg.missing.add("222");
    for (const address of ["111", "222"]) {
      const err = await sender.send({ ...message, address }).catch((e) => e);
      expect(err).toBeInstanceOf(PermanentFailure);
      expect(err.suppress).toBe(true);
    }
  });

  it("429 (with retry_after), 500 and timeouts are transient", async () => {
    tg.fail(429, { times: 1 }).fail(502, { times: 1 }).fail("timeout", { times: 1 });
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await sender.send(message).catch((e) => e));
    for (const err of errors) expect(err).not.toBeInstanceOf(PermanentFailure);
    expect(errors[0].message).toContain("retry after 5");
  });
});
