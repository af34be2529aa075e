/**
 * A strict Content-Security-Policy on HTML: no inline script anywhere, inline styles only by
 * hash; checked on the public page (served pre-compressed) and the compensation report.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import { launchBrowser } from "../support/browser.ts";

const hashes = (html: string) =>
  [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map(
    (m) => `'sha256-${createHash("sha256").update(m[1]!).digest("base64")}'`,
  );

describe("security headers", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp("pglite");
  });
  afterAll(() => t.close());

  for (const encoding of ["identity", "br", "gzip"])
    it(`sends a CSP that allows the status page's own style and no inline script (${encoding})`, async () => {
      const res = await t.app.inject({ method: "GET", url: "/", headers: { "accept-encoding": encoding } });
      expect(res.statusCode).toBe(200);
      const csp = String(res.headers["content-security-policy"]);
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      if (encoding === "identity") {
        expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)/);
        for (const h of hashes(res.body)) expect(csp).toContain(h);
      }
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
    });

  it("adds no CSP to JSON, and a page's own inline style is allowed by its hash", async () => {
    const json = await t.call("GET", "/api/v1/components");
    expect(json.headers["content-security-policy"]).toBeUndefined();
    const confirm = await t.app.inject({ method: "GET", url: "/subscriptions/confirm?t=nonsense" });
    const csp = String(confirm.headers["content-security-policy"]);
    for (const h of hashes(confirm.body)) expect(csp).toContain(h);
  });

  it("breaks nothing on the public page in Chromium: no CSP violation, the style applies", async () => {
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      for (const path of ["/", "/?lang=it", "/subscriptions/confirm?t=nonsense"]) {
        await page.goto(`${base}${path}`);
        // The inline <style> is in force: the page's background, not the browser's white.
        const background = await page.evaluate(
          () => (globalThis as any).getComputedStyle((globalThis as any).document.body).backgroundColor,
        );
        expect(background, path).toBe("rgb(246, 248, 250)");
      }
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
