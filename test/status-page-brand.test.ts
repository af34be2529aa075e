/**
 * The page in the company's colours: name, accent, logo and favicon set through the API reach the
 * page, its private copies and its static export; images are taken by what their bytes are; a
 * refused upload changes nothing; Chromium applies the accent under the page's CSP.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contrastRatio, textOnAccent } from "../src/core/brand.ts";
import { collectStatic } from "../src/status-page/static-copy.ts";
import { startTestApp, type TestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";
import { launchBrowser } from "./support/browser.ts";

const SVG = readFileSync(new URL("../examples/brand/the-fleet-logo.svg", import.meta.url));
/** A 1×1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);
const GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

async function upload(t: TestApp, kind: string, body: Buffer | string, type: string) {
  const res = await t.app.inject({
    method: "PUT",
    url: `/api/v1/brand/${kind}`,
    headers: { authorization: `Bearer ${t.token}`, "content-type": type },
    payload: body,
  });
  return { status: res.statusCode, json: res.json() };
}

describe("an accent colour", () => {
  it("always gets a text colour that reads on it at 4.5:1 or better", () => {
    for (const accent of ["#000000", "#ffffff", "#777777", "#0f6e6e", "#ffcc00", "#ff0000", "#4493f8"])
      expect(contrastRatio(accent, textOnAccent(accent)), accent).toBeGreaterThanOrEqual(4.5);
  });
});

describe.each(BACKENDS)("the brand on %s", (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(backend);
    await t.call("POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
  });
  afterAll(() => t.close());

  it("shows the name, accent, logo and favicon set through the API, and drops them when cleared", async () => {
    const set = await t.call("PATCH", "/api/v1/brand", { name: "Fleet & Co", accent_color: "#0F6E6E" });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    expect(set.json).toMatchObject({ name: "Fleet & Co", accent_color: "#0f6e6e", logo_url: null });
    const logo = await upload(t, "logo", PNG, "image/png");
    expect(logo.status, JSON.stringify(logo.json)).toBe(200);
    expect(logo.json.logo_url).toMatch(/^\/brand\/logo-[0-9a-f]{16}\.png$/);
    const favicon = await upload(t, "favicon", SVG, "image/svg+xml");
    expect(favicon.json.favicon_url).toMatch(/^\/brand\/favicon-[0-9a-f]{16}\.svg$/);

    const page = await t.app.inject("/");
    expect(page.body).toContain("<title>Fleet &amp; Co status</title>");
    expect(page.body).toContain(`<img class="logo" src="${logo.json.logo_url}" alt="" width="1" height="1">`);
    expect(page.body).toContain(`<link rel="icon" href="${favicon.json.favicon_url}" type="image/svg+xml">`);
    expect(page.body).toContain("<style>:root{--accent:#0f6e6e;--on-accent:#ffffff}</style>");
    // Its CSP allows that style by hash, and only it and the page's own.
    expect(String(page.headers["content-security-policy"]).match(/'sha256-/g)).toHaveLength(2);
    expect((await t.app.inject("/api/v2/summary.json")).json().page.name).toBe("Fleet & Co");

    const image = await t.app.inject(logo.json.logo_url);
    expect(image.statusCode).toBe(200);
    expect(image.headers["content-type"]).toBe("image/png");
    expect(image.headers["cache-control"]).toContain("immutable");
    expect(image.rawPayload.equals(PNG)).toBe(true);
    const icon = await t.app.inject(favicon.json.favicon_url);
    expect(icon.headers["content-security-policy"]).toContain("sandbox");
    expect((await t.app.inject("/brand/logo-0000000000000000.png")).statusCode).toBe(404);

    // A page at /p/<id>/ links the images under its own path, where they answer too.
    await t.call("POST", "/api/v1/status-pages", { id: "milan", name: "Milan", components: ["rentals"] });
    const milan = await t.app.inject("/p/milan/");
    expect(milan.body).toContain(`src="/p/milan${logo.json.logo_url}"`);
    expect(milan.body).toContain(`href="/p/milan${favicon.json.favicon_url}"`);
    expect((await t.app.inject(`/p/milan${logo.json.logo_url}`)).statusCode).toBe(200);

    // The static copy carries them.
    const files = await collectStatic(async (path) => {
      const res = await t.app.inject({ url: path, headers: { "accept-encoding": "identity" } });
      return { status: res.statusCode, body: res.rawPayload, type: String(res.headers["content-type"]) };
    });
    expect(files.map((f) => f.key)).toEqual(
      expect.arrayContaining([logo.json.logo_url.slice(1), favicon.json.favicon_url.slice(1)]),
    );

    await t.call("DELETE", "/api/v1/brand/logo");
    const cleared = await t.call("PATCH", "/api/v1/brand", { name: null, accent_color: null });
    expect(cleared.json).toMatchObject({ name: null, accent_color: null, logo_url: null });
    const plain = (await t.app.inject("/")).body;
    expect(plain).not.toContain('class="logo"');
    expect(plain).not.toContain("--accent:#0f6e6e");
    expect(plain).toContain("<title>The Fleet status</title>");
    expect((await t.app.inject(logo.json.logo_url)).statusCode).toBe(404);
  });

  it("takes images by their bytes, naming the field, and a refused upload changes nothing", async () => {
    const before = await t.call("GET", "/api/v1/brand");
    const gif = await upload(t, "logo", GIF, "image/png");
    expect(gif.status).toBe(400);
    expect(gif.json.errors[0]).toMatchObject({ field: "logo" });
    expect(gif.json.detail).toContain("PNG, JPG, WEBP, SVG");
    expect(gif.json.detail).toContain("(this one is GIF)");
    const html = await upload(t, "favicon", "<html><script>alert(1)</script></html>", "image/svg+xml");
    expect(html.status).toBe(400);
    expect(html.json.errors[0].field).toBe("favicon");
    const tooBig = await upload(t, "favicon", Buffer.concat([PNG, Buffer.alloc(70 * 1024)]), "image/png");
    expect([400, 413]).toContain(tooBig.status);
    const notAnImage = await t.call("PUT", "/api/v1/brand/logo", { logo: "x" });
    expect(notAnImage.status).toBe(415);
    const badAccent = await t.call("PATCH", "/api/v1/brand", { accent_color: "teal" });
    expect(badAccent.status).toBe(400);
    expect(badAccent.json.errors[0].field).toBe("accent_color");
    expect((await t.call("GET", "/api/v1/brand")).json).toEqual(before.json);
  });
});

describe("the brand in Chromium", () => {
  it("applies the accent under the page's CSP, in light and dark", async () => {
    const t = await startTestApp("pglite");
    const browser = await launchBrowser();
    try {
      await t.call("POST", "/api/v1/components", { id: "rentals", name: "Rentals" });
      await t.call("PATCH", "/api/v1/brand", { accent_color: "#ffcc00" });
      await upload(t, "logo", SVG, "image/svg+xml");
      await t.app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = t.app.server.address() as AddressInfo;
      for (const colorScheme of ["light", "dark"] as const) {
        const page = await browser.newPage({ colorScheme });
        const violations: string[] = [];
        page.on("console", (m) => m.type() === "error" && violations.push(m.text()));
        await page.goto(`http://127.0.0.1:${port}/`);
        const button = page.getByRole("button", { name: "Subscribe" });
        // Yellow takes dark text; the logo loaded.
        expect(await button.evaluate((b) => (globalThis as any).getComputedStyle(b).backgroundColor)).toBe(
          "rgb(255, 204, 0)",
        );
        expect(await button.evaluate((b) => (globalThis as any).getComputedStyle(b).color)).toBe(
          "rgb(0, 0, 0)",
        );
        expect(await page.locator("img.logo").evaluate((img: any) => img.naturalWidth)).toBe(48);
        expect(violations).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
      await t.close();
    }
  });
});
