import { describe, expect, it } from "vitest";
import { channelsFromEnv, closeChannels } from "../../../src/notifications/channels/index.ts";

const providers = (registry: ReturnType<typeof channelsFromEnv>) =>
  Object.fromEntries(
    Object.entries(registry).map(([channel, senders]) => [channel, senders.map((s) => s.provider)]),
  );

describe("channelsFromEnv", () => {
  it("without configuration, only the channels that need none", () => {
    expect(providers(channelsFromEnv({}))).toEqual({
      webhook: ["webhook"],
      slack: ["slack"],
      teams: ["teams"],
      discord: ["discord"],
    });
  });

  it("builds every configured provider, failover ones after the primary", async () => {
    const registry = channelsFromEnv({
      AMENDS_SMTP_URL: "smtp://relay.example.com:587",
      AMENDS_SMTP_FALLBACK_URL: "smtp://backup.example.com:587",
      AMENDS_MAIL_FROM: "Status <status@example.com>",
      TWILIO_ACCOUNT_SID: "AC123",
      TWILIO_AUTH_TOKEN: "secret",
      TWILIO_FROM: "+15005550006",
      AMENDS_SMS_HTTP_URL: "https://sms.example.com/v1/messages",
      AMENDS_SMS_HTTP_PROVIDER: "acme-sms",
      AMENDS_SMS_HTTP_FIELDS: "to=msisdn,text=message",
      TELEGRAM_BOT_TOKEN: "123:abc",
      VAPID_PUBLIC_KEY: "pub",
      VAPID_PRIVATE_KEY: "priv",
      VAPID_SUBJECT: "mailto:ops@example.com",
      MASTODON_URL: "https://mastodon.example",
      MASTODON_TOKEN: "tok",
      BLUESKY_HANDLE: "status.example.com",
      BLUESKY_APP_PASSWORD: "abcd-efgh-ijkl-mnop",
    });
    expect(providers(registry)).toEqual({
      email: ["smtp", "smtp-fallback"],
      sms: ["twilio", "acme-sms"],
      telegram: ["telegram"],
      web_push: ["web_push"],
      mastodon: ["mastodon"],
      bluesky: ["bluesky"],
      webhook: ["webhook"],
      slack: ["slack"],
      teams: ["teams"],
      discord: ["discord"],
    });
    for (const [channel, senders] of Object.entries(registry)) {
      for (const s of senders) expect(s.channel).toBe(channel);
    }
    await closeChannels(registry);
  });

  it("AMENDS_SMS_PROVIDERS picks the primary", () => {
    const registry = channelsFromEnv({
      TWILIO_ACCOUNT_SID: "AC123",
      TWILIO_AUTH_TOKEN: "secret",
      TWILIO_FROM: "+15005550006",
      AMENDS_SMS_HTTP_URL: "https://sms.example.com/v1/messages",
      AMENDS_SMS_PROVIDERS: "http-sms,twilio",
    });
    expect(registry.sms!.map((s) => s.provider)).toEqual(["http-sms", "twilio"]);
  });

  it("orders e-mail providers by AMENDS_EMAIL_PROVIDERS; batch providers say their batch size", async () => {
    const registry = channelsFromEnv({
      AMENDS_MAIL_FROM: "Status <status@example.com>",
      AMENDS_SMTP_URL: "smtp://relay.example.com:587",
      POSTMARK_SERVER_TOKEN: "pm-token",
      SENDGRID_API_KEY: "SG.key",
      AMENDS_EMAIL_PROVIDERS: "postmark,sendgrid",
    });
    expect(registry.email!.map((s) => [s.provider, s.maxBatch])).toEqual([
      ["postmark", 500],
      ["sendgrid", 1000],
      ["smtp", undefined],
    ]);
    await closeChannels(registry);
    expect(
      providers(channelsFromEnv({ AMENDS_MAIL_FROM: "s@example.com", POSTMARK_SERVER_TOKEN: "t" })).email,
    ).toEqual(["postmark"]);
    expect(() =>
      channelsFromEnv({
        AMENDS_MAIL_FROM: "s@example.com",
        POSTMARK_SERVER_TOKEN: "t",
        AMENDS_EMAIL_PROVIDERS: "postmak",
      }),
    ).toThrow("postmak: not a configured provider");
    expect(() => channelsFromEnv({ SENDGRID_API_KEY: "SG.key" })).toThrow("AMENDS_MAIL_FROM");
    expect(() => channelsFromEnv({ AMENDS_MAIL_FROM: "s@example.com" })).toThrow("needs a provider");
  });

  it("a half-configured provider is an error that names what is missing", () => {
    expect(() => channelsFromEnv({ TWILIO_ACCOUNT_SID: "AC123", TWILIO_FROM: "+1500" })).toThrow(
      "TWILIO_AUTH_TOKEN must be set along with TWILIO_ACCOUNT_SID, TWILIO_FROM",
    );
    expect(() => channelsFromEnv({ AMENDS_SMTP_URL: "smtp://x" })).toThrow("AMENDS_MAIL_FROM");
    expect(() => channelsFromEnv({ AMENDS_HTTP_TIMEOUT_MS: "soon" })).toThrow("AMENDS_HTTP_TIMEOUT_MS");
    expect(() =>
      channelsFromEnv({
        AMENDS_SMS_HTTP_URL: "https://sms.example.com",
        AMENDS_SMS_HTTP_FIELDS: "phone=msisdn",
      }),
    ).toThrow("AMENDS_SMS_HTTP_FIELDS");
  });
});
