/**
 * The public page in a real browser: desktop and phone widths (screenshots kept for review in
 * test-results/), JavaScript off, an Italian reader, and an axe-core accessibility scan.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app.ts";
import { launchBrowser } from "./support/browser.ts";

const SHOTS = join(import.meta.dirname, "../test-results");
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

describe("the status page in Chromium", () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    t = await startTestApp("pglite");
    for (const c of [
      { id: "svc", name: "Car sharing" },
      { id: "end", parent_id: "svc", name: "End rental" },
      { id: "end-milan", parent_id: "end", name: "Milan", region: "milan" },
      { id: "end-rome", parent_id: "end", name: "Rome", region: "rome" },
    ]) {
      await t.call("POST", "/api/v1/components", c);
    }
    await t.call("POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended in Milan",
      body: "Leave the car parked safely; you will not pay for the extra time.",
      components: [{ id: "end-milan", status: "major_outage" }],
      eta: new Date(Date.now() + 7_200_000).toISOString(),
      next_update_by: new Date(Date.now() + 1_800_000).toISOString(),
      translations: {
        it: {
          title: "Impossibile terminare il noleggio a Milano",
          body: "Lasciate l'auto parcheggiata: il tempo in più non vi sarà addebitato.",
        },
      },
    });
    base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  for (const [name, viewport] of [
    ["desktop", { width: 1280, height: 900 }],
    ["phone", { width: 390, height: 844 }],
  ] as const) {
    it(`renders at ${name} width with JavaScript off`, async () => {
      const context = await browser.newContext({ viewport, javaScriptEnabled: false, locale: "en-GB" });
      const page = await context.newPage();
      const res = await page.goto(`${base}/`);
      expect(res?.status()).toBe(200);
      await expect(page.getByRole("status").first().textContent()).resolves.toContain("Major Service Outage");
      // Once as the incident, and in the popovers of the days it touched.
      expect(
        await page.locator("article.incident").getByText("Rentals cannot be ended in Milan").count(),
      ).toBe(1);
      // Nothing overflows sideways on a phone.
      const overflow = await page
        .evaluate(() => {
          const d = (globalThis as any).document.documentElement;
          return d.scrollWidth - d.clientWidth;
        })
        .catch(() => 0);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(SHOTS, `status-page-${name}.png`), fullPage: true });
      await context.close();
    });
  }

  it("shows the incident in Italian to an Italian browser", async () => {
    const context = await browser.newContext({ locale: "it-IT" });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    expect(await page.locator("html").getAttribute("lang")).toBe("it");
    expect(
      await page.locator("article.incident").getByText("Impossibile terminare il noleggio a Milano").count(),
    ).toBe(1);
    expect(await page.getByText("Disservizi in corso").count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, "status-page-it.png"), fullPage: true });
    await context.close();
  });

  it("passes an axe-core scan with no violations, light and dark, with a day's popover open", async () => {
    const incidents = (await t.call("GET", "/api/v1/incidents")).json.incidents;
    for (const colorScheme of ["light", "dark"] as const) {
      // axe goes in as an inline script, which the page's Content-Security-Policy rightly refuses.
      const context = await browser.newContext({ bypassCSP: true, colorScheme });
      const page = await context.newPage();
      for (const path of ["/", "/?lang=fr", `/incidents/${incidents[0].id}`]) {
        await page.goto(`${base}${path}`);
        // Today's bar has something to tell: it opens, by keyboard, to its popover.
        const today = page.locator("ol.days li:last-child summary").first();
        if (await today.count()) {
          await today.focus();
          await page.keyboard.press("Enter");
          expect(await page.locator("ol.days li:last-child details").first().getAttribute("open")).toBe("");
          expect(await page.locator("ol.days li:last-child .pop").first().textContent()).toContain(
            "Rentals cannot be ended in Milan",
          );
        }
        await page.addScriptTag({ content: AXE });
        const results = await page.evaluate(async () =>
          (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] }),
        );
        expect(
          results.violations.map((v: any) => `${colorScheme} ${path} ${v.id}: ${v.help} (${v.nodes.length})`),
        ).toEqual([]);
      }
      await context.close();
    }
  });
});
