/**
 * The page's subscribe form in Chromium, JavaScript off: an Italian reader on a phone fills in
 * e-mail and mobile number, picks a city from the folded choice, and the confirmations land in
 * Italian at the SMTP server and the SMS provider. The form stays short: the components below
 * it are not pushed far down.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";
import { type ChannelFakes, startChannelFakes } from "./support/channels.ts";
import { decodeWords, type SmtpFake } from "./support/fakes/smtp.ts";
import type { TwilioFake } from "./support/fakes/twilio.ts";
import { until } from "./support/until.ts";

const SHOTS = join(import.meta.dirname, "../test-results");

describe("the subscribe form in Chromium", () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  let smtp: SmtpFake;
  let twilio: TwilioFake;
  let fakes: ChannelFakes;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    fakes = await startChannelFakes();
    ({ smtp, twilio } = fakes);
    t = await startTestApp("pglite", { channels: fakes.channels });
    for (const c of [
      { id: "svc", name: "Car sharing" },
      { id: "end", parent_id: "svc", name: "End rental" },
      { id: "end-milan", parent_id: "end", name: "Milan", region: "milan" },
      { id: "end-rome", parent_id: "end", name: "Rome", region: "rome" },
      { id: "pay", parent_id: "svc", name: "Payments" },
    ]) {
      await t.call("POST", "/api/v1/components", c);
    }
    await t.call("PUT", "/api/v1/notification-settings", {
      public_url: "http://status.fleet.test",
      sms: { subscriptions: true },
    });
    base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fakes?.stop();
  });

  it("subscribes by e-mail and SMS to one city on a phone, without JavaScript, in Italian", async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      javaScriptEnabled: false,
      locale: "it-IT",
    });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    expect(await page.locator("html").getAttribute("lang")).toBe("it");

    // Short on a phone: the choice is folded, and the section is well under a screen high.
    const form = page.locator("section[aria-labelledby=subscribe]");
    const box = (await form.boundingBox())!;
    expect(box.height).toBeLessThan(844 * 0.6);
    expect(await page.locator('input[name="components"][value="end-milan"]').isVisible()).toBe(false);
    await page.screenshot({ path: join(SHOTS, "subscribe-form-phone.png"), fullPage: true });

    await page.getByLabel("Indirizzo email").fill("nina@example.com");
    await page.getByLabel("Numero di cellulare per gli SMS").fill("+39 347 222 3333");
    await page.getByText("Solo alcuni componenti o città").click();
    await page.locator('input[name="regions"][value="milan"]').check();
    await page.getByRole("button", { name: "Iscriviti" }).click();
    await page.getByText("Controlla la posta").waitFor();
    expect(await page.getByText("Abbiamo inviato un codice via SMS").count()).toBe(1);

    await until("the e-mail and the SMS", () => smtp.received.length === 1 && twilio.messages.length === 1);
    const mail = smtp.received[0]!;
    expect(mail.to).toEqual(["nina@example.com"]);
    expect(decodeWords(mail.message.headers.get("subject") ?? "")).toContain("Conferma");
    expect(mail.message.headers.get("content-language")).toBe("it");
    expect(twilio.messages[0]!.to).toBe("+393472223333");
    expect(twilio.messages[0]!.body).toContain("Il tuo codice di conferma");

    // The code, typed into the page.
    const code = /(\d{6})/.exec(twilio.messages[0]!.body)![1]!;
    await page.getByLabel("Codice ricevuto via SMS").fill(code);
    await page.getByRole("button", { name: "Conferma" }).click();
    await page.getByRole("heading", { level: 2, name: "Iscrizione confermata" }).waitFor();

    const subs = (await t.call("GET", "/api/v1/subscribers")).json.subscribers;
    expect(subs.map((s: any) => [s.channel, s.regions, s.locale, Boolean(s.confirmed_at)]).sort()).toEqual([
      ["email", ["milan"], "it", false],
      ["sms", ["milan"], "it", true],
    ]);
    await context.close();
  }, 60_000);

  it("shows the choice as the component tree and the cities, and nothing overflows", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-GB" });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.getByText("Only some components or cities").click();
    for (const name of ["Car sharing", "End rental", "Payments"])
      expect(await page.getByLabel(name, { exact: true }).isVisible(), name).toBe(true);
    // Cities by the names people read, not their ids.
    expect(await page.locator("ul.cities label").allInnerTexts()).toEqual(["Milan", "Rome"]);
    expect(await page.locator('input[name="regions"][value="milan"]').isVisible()).toBe(true);
    const overflow = await page.evaluate(() => {
      const d = (globalThis as any).document.documentElement;
      return d.scrollWidth - d.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await context.close();
  }, 60_000);
});
