/**
 * Web push from the status page in Chromium: the button appears only with JavaScript and a
 * VAPID key, subscribing sends a push confirmation whose link confirms, and the next incident
 * arrives as a push. Chromium's own push service (FCM) is out of reach here, so the page's
 * PushManager.subscribe is pointed at a local push service speaking RFC 8030/8291.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import webpush from "web-push";
import { webPushSender } from "../../src/notifications/channels/web-push.ts";
import { type Notifier, startNotifier } from "../../src/notifications/notifier.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { launchBrowser } from "../support/browser.ts";
import { PushServiceFake } from "../support/fakes/push-service.ts";
import { until } from "../support/until.ts";

describe("web push from the status page", () => {
  const push = new PushServiceFake();
  let t: TestApp;
  let browser: Browser;
  let notifier: Notifier;
  let base: string;

  beforeAll(async () => {
    await push.start();
    const vapid = { ...webpush.generateVAPIDKeys(), subject: "mailto:ops@fleet.test" };
    const channels = { web_push: [webPushSender({ vapid, timeoutMs: 2_000, allowPrivateTargets: true })] };
    t = await startTestApp("pglite", { channels });
    notifier = await startNotifier(t.database, { channels });
    await t.call("POST", "/api/v1/components", { id: "end", name: "End rental" });
    base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    await t.call("PUT", "/api/v1/notification-settings", { public_url: base });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await notifier?.stop();
    await t?.close();
    await push.stop();
  });

  it("shows nothing extra without JavaScript", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    expect(await page.locator("#push").isVisible()).toBe(false);
    await context.close();
  });

  it("subscribes, confirms from the push, and receives the next incident", async () => {
    const subscription = push.subscribe();
    const context = await browser.newContext({ locale: "it-IT" });
    await context.grantPermissions(["notifications"], { origin: base });
    await context.addInitScript((sub) => {
      const pushManager = (globalThis as unknown as { PushManager: { prototype: { subscribe: unknown } } })
        .PushManager;
      pushManager.prototype.subscribe = async () => ({ toJSON: () => sub });
    }, subscription);
    const page = await context.newPage();
    await page.goto(`${base}/it/`);
    const button = page.getByRole("button", { name: "Oppure ricevi notifiche nel browser" });
    await button.click();
    await page.getByText("fai clic sulla notifica").waitFor();

    await until("the confirmation push", () => push.deliveries.length === 1);
    const confirmation = JSON.parse(push.deliveries[0]!.payload);
    expect(confirmation.url).toMatch(/\/subscriptions\/confirm\?t=/);
    await page.goto(confirmation.url);
    await page.getByRole("button").click();
    await page.waitForLoadState();

    await t.call("POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended",
      body: "We are on it.",
      components: [{ id: "end", status: "major_outage" }],
    });
    await notifier.dispatch();
    await until("the incident push", () => push.deliveries.length === 2);
    const incident = JSON.parse(push.deliveries[1]!.payload);
    expect(incident.title).toContain("Rentals cannot be ended");
    expect(incident.lang).toBe("it");
    await context.close();
  }, 60_000);

  it("serves the service worker from the root", async () => {
    const sw = await t.app.inject({ method: "GET", url: "/sw.js" });
    expect(sw.statusCode).toBe(200);
    expect(sw.headers["content-type"]).toContain("javascript");
    expect(sw.body).toContain("showNotification");
  });
});
