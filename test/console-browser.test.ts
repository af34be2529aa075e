/**
 * The operator's console in Chromium, end to end through the real server: first run, TOTP
 * enrolment and sign-in, an incident opened from a protocol with one button and seen on the
 * public page, an update in two languages, a compensation run previewed by the owner and
 * approved, applied and exported by a second (finance) user on a phone; screenshots at
 * desktop and phone widths into test-results/, and an axe-core scan of every view.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { generate } from "otplib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscribers, workspaces } from "../src/storage/schema.ts";
import { A } from "./compensation/examples.ts";
import { launchBrowser } from "./support/browser.ts";
import { type ConsoleApp, startConsoleApp } from "./support/console-app.ts";

const ROOT = join(import.meta.dirname, "..");
const SHOTS = join(ROOT, "test-results");
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const OWNER = { name: "Olga Owner", email: "olga@fleet.example", password: "correct horse battery" };
/** A 48×24 PNG in two colours (117 bytes): the logo and the favicon uploaded through the console. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAADAAAAAYCAIAAAAzn+mLAAAAPElEQVR42mPgL8vDir7O48aKaK2eYdRBow4addCIc9BAWYxL/aiDRh006qCR56DRknrUQaMOGnXQADsIAArrxozpm4Q5AAAAAElFTkSuQmCC",
  "base64",
);
const FINANCE = { name: "Fabio Finance", email: "fabio@fleet.example", password: "staple gun ledger 42" };

function csv(rows: Record<string, unknown>[]): string {
  const header = Object.keys(rows[0]!);
  return [header.join(","), ...rows.map((r) => header.map((h) => String(r[h] ?? "")).join(","))].join("\n");
}

async function seed(c: ConsoleApp) {
  const call = async (method: string, url: string, body?: unknown, type = "application/json") => {
    const res = await fetch(`${c.base}${url}`, {
      method,
      headers: { authorization: `Bearer ${c.token}`, "content-type": type },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    expect(res.status, `${method} ${url}: ${await res.clone().text()}`).toBeLessThan(300);
    return res.json();
  };
  await call("POST", "/api/v1/components", { id: "rental-backend", name: "Rentals" });
  await call("POST", "/api/v1/components", {
    id: "end-rental",
    parent_id: "rental-backend",
    name: "End rental",
  });
  await call("POST", "/api/v1/components", {
    id: "end-rental-milan",
    parent_id: "end-rental",
    name: "Milan",
    region: "milan",
  });
  await call("POST", "/api/v1/components", { id: "partner-fleet", name: "Partner fleet" });
  // Two subscribers, as the page's form would leave them once confirmed.
  const ws = (await c.database.db.select().from(workspaces))[0]!;
  await c.database.db.insert(subscribers).values([
    {
      workspaceId: ws.id,
      id: "sub-ada",
      channel: "email",
      address: "ada@example.com",
      components: ["end-rental"],
      regions: ["milan"],
      createdAt: new Date(),
    },
    {
      workspaceId: ws.id,
      id: "sub-bo",
      channel: "email",
      address: "bo@example.com",
      incidentId: "INC-SEED",
      createdAt: new Date(),
    },
  ]);
  const customers = A.customers.map((x) => ({
    id: x.id,
    home_region: x.homeRegion,
    monthly_fee: "",
    currency: x.currency,
    email: `${x.id.toLowerCase()}@example.com`,
  }));
  await call("POST", "/api/v1/import/customers", csv(customers), "text/csv");
  const sessions = A.sessions.map((s) => ({
    id: s.id,
    customer_id: s.customerId,
    kind: s.kind,
    component_id: s.componentId,
    region: s.region,
    started_at: s.start === null ? "" : new Date(s.start).toISOString(),
    ended_at: s.end === null ? "" : new Date(s.end).toISOString(),
    charge: s.charge,
    currency: s.currency,
    refunded: s.refunded,
  }));
  await call("POST", "/api/v1/import/sessions", csv(sessions), "text/csv");
  await call("POST", "/api/v1/incidents", {
    id: A.incident.id,
    title: "Rentals could not be ended",
    body: "Investigating",
    notify: false,
    started_at: A.incident.start,
    components: [{ id: "rental-backend", status: "major_outage" }],
  });
  await call("POST", `/api/v1/incidents/${A.incident.id}/resolve`, {
    resolved_at: A.incident.end,
    notify: false,
  });
  await call("POST", "/api/v1/policies", {
    yaml: readFileSync(join(ROOT, "examples/policies/car2go-2017-outage.yaml"), "utf8"),
  });
  await call("PUT", "/api/v1/protocols/milan-end-rental", {
    title: "Rentals cannot be ended in Milan",
    body: "Leave the car parked safely; you will not pay for the extra time.",
    components: [{ id: "end-rental-milan", status: "major_outage" }],
  });
  const day = 86_400_000;
  await call("POST", "/api/v1/maintenances", {
    title: "Payment provider upgrade",
    body: "Card payments may fail for a few minutes.",
    components: ["rental-backend"],
    starts_at: new Date(Date.now() + 2 * day).toISOString(),
    ends_at: new Date(Date.now() + 2 * day + 3_600_000).toISOString(),
  });
  const monitor = await call("POST", "/api/v1/monitors", {
    name: "Rental API",
    kind: "http",
    target: "https://api.fleet.example/healthz", // never checked: this server runs no engine
    componentIds: ["rental-backend"],
    intervalSeconds: 60,
  });
  // The last hour's checks, as the engine records them (this server runs no engine).
  await c.database.query(
    `insert into monitor_results (workspace_id, monitor_id, at, location, ok, latency_ms)
     select workspace_id, id, now() - make_interval(mins => i), 'server', i <> 17, 40 + (i * 7) % 60
       from monitors, generate_series(1, 60) i where id = $1`,
    [(monitor as { id: string }).id],
  );
  // A signal monitor (judged by no engine here: its chart reads the counts directly) and an alert
  // integration that has heard one alert fire.
  await call("POST", "/api/v1/monitors", {
    name: "End-rental failures (signal)",
    kind: "signal",
    componentIds: ["end-rental-milan"],
    assertions: { signal: { event: "session_failed", direction: "spike" } },
  });
  const hook = (await call("POST", "/api/v1/alert-integrations", {
    name: "Prometheus",
    tool: "alertmanager",
    onFailure: "alert_team",
    rules: [{ match: { service: "rentals" }, components: ["end-rental-{city}"] }],
  })) as { webhookUrl: string; token: string };
  const delivered = await fetch(`${c.base}${hook.webhookUrl}`, {
    method: "POST",
    headers: { authorization: `Bearer ${hook.token}`, "content-type": "application/json" },
    body: JSON.stringify({
      version: "4",
      status: "firing",
      alerts: [
        {
          status: "firing",
          labels: { alertname: "EndRentalErrors", service: "rentals", city: "milan" },
          annotations: { summary: "End-rental errors in Milan" },
          startsAt: new Date().toISOString(),
          fingerprint: "f1",
        },
      ],
    }),
  });
  expect(delivered.status).toBe(202);
}

/** A TOTP code not used before: waits for the next 30-second step when `used` is current. */
async function freshCode(secret: string, used?: string) {
  for (;;) {
    const code = await generate({ secret });
    if (code !== used) return code;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function axeScan(page: Page) {
  // Evaluated over the DevTools protocol: the page's CSP rightly forbids an inline script tag.
  await page.evaluate(`${AXE}\n;void 0`);
  const results = await page.evaluate(async () =>
    (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] }),
  );
  return results.violations
    .filter((v: any) => v.impact === "serious" || v.impact === "critical")
    .map((v: any) => `${page.url()} ${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target).join(" ")})`);
}

async function noSidewaysScroll(page: Page) {
  return page.evaluate(() => {
    const d = (globalThis as any).document.documentElement;
    return d.scrollWidth - d.clientWidth;
  });
}

describe("the console in Chromium", () => {
  let c: ConsoleApp;
  let browser: Browser;
  let owner: BrowserContext;
  let totpSecret = "";
  let lastCode = "";
  const cspViolations: string[] = [];
  const violations: string[] = [];

  const watch = (page: Page) => {
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    return page;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // `npm test` builds the console first (pretest); a lone vitest run builds it here.
    if (!existsSync(join(ROOT, "console/dist/index.html")))
      await build({ configFile: join(ROOT, "console/vite.config.ts") });
    c = await startConsoleApp();
    await seed(c);
    browser = await launchBrowser();
    owner = await browser.newContext({ viewport: DESKTOP, locale: "en-GB", acceptDownloads: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await c?.close();
  });

  it("serves the app under /admin with a strict CSP, cached assets and a fallback to index.html", async () => {
    const res = await fetch(`${c.base}/admin/compensation/whatever`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await res.text();
    const asset = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeTruthy();
    expect(html).not.toMatch(/<script>|<style>|style="/);
    const js = await fetch(`${c.base}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${c.base}/admin/assets/nope.js`)).status).toBe(404);
  });

  it("creates the owner from the first-run link and enrols TOTP", async () => {
    const page = watch(await owner.newPage());
    await page.goto(c.setupUrl);
    await page.getByLabel("Name").fill(OWNER.name);
    await page.getByLabel("E-mail").fill(OWNER.email);
    await page.getByLabel("New password").fill(OWNER.password);
    await page.getByRole("button", { name: "Create account" }).click();
    // The new owner lands on the overview, as every sign-in does.
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    await page.getByRole("link", { name: "My account" }).click();
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    totpSecret = (await page.getByTestId("totp-secret").textContent())!.trim();
    lastCode = await freshCode(totpSecret);
    await page.getByLabel("Code from your authenticator app").fill(lastCode);
    await page.getByRole("button", { name: "Turn on two-step sign-in" }).click();
    await expect(page.getByText("Two-step sign-in is on.").first().waitFor()).resolves.toBeUndefined();

    // The second person, a finance user, created through the API with the owner's session.
    const created = await page.evaluate(async (u) => {
      const s = (await (await fetch("/api/v1/session")).json()) as any;
      const res = await fetch("/api/v1/users", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": s.csrfToken },
        body: JSON.stringify({ ...u, role: "finance" }),
      });
      return res.status;
    }, FINANCE);
    expect(created).toBeLessThan(300);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.close();
  }, 60_000);

  it("signs in with password and TOTP, starts a protocol in one action, and the public page shows it", async () => {
    const page = watch(await owner.newPage());
    await page.goto(`${c.base}/admin/`);
    await page.getByLabel("E-mail").fill(OWNER.email);
    await page.getByLabel("Password").fill(OWNER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    const codeField = page.getByLabel("Code from your authenticator app");
    await codeField.waitFor();
    // A code is good once: wait for the next step if the enrolment used this one.
    lastCode = await freshCode(totpSecret, lastCode);
    await codeField.fill(lastCode);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();

    // The session cookie alone cannot change anything: unsafe requests need the CSRF header.
    const withoutCsrf = await page.evaluate(async () => {
      const res = await fetch("/api/v1/components", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "Forged" }),
      });
      return res.status;
    });
    expect(withoutCsrf).toBe(403);

    await page.getByRole("button", { name: "Start: Rentals cannot be ended in Milan" }).click();
    await page.getByRole("heading", { name: "Rentals cannot be ended in Milan" }).waitFor();
    expect(page.url()).toMatch(/\/admin\/incidents\//);
    const incidentId = decodeURIComponent(page.url().split("/incidents/")[1]!);
    await page.getByText("Who the protocol told").click();
    await page
      .getByText(/\d+ recipients?/)
      .first()
      .waitFor();

    const publicPage = await owner.newPage();
    await publicPage.goto(`${c.base}/`);
    expect(await publicPage.getByText("Rentals cannot be ended in Milan").count()).toBeGreaterThan(0);
    await publicPage.close();

    // An update with an ETA, a next-update promise and the text in English and Italian side by side.
    await page.getByLabel("Status").selectOption("identified");
    await page.getByLabel("Message (en)").fill("A faulty release is being rolled back.");
    await page.getByLabel("Message (it)").fill("Stiamo annullando un rilascio difettoso.");
    await page.getByLabel("Expected fix").fill("2030-01-01T12:00");
    await page.getByLabel("Next update promised by").fill("2030-01-01T10:30");
    await page.getByRole("button", { name: "Post an update" }).last().click();
    await page.getByText("Stiamo annullando un rilascio difettoso.").waitFor();
    await page.screenshot({ path: join(SHOTS, "console-incident-desktop.png"), fullPage: true });
    violations.push(...(await axeScan(page)));

    await page.goto(`${c.base}/admin/`);
    await page.getByRole("link", { name: "Rentals cannot be ended in Milan" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "console-overview-desktop.png"), fullPage: true });
    violations.push(...(await axeScan(page)));

    // A promise that falls due is flagged where responders look, in words.
    expect(await page.getByText(/update overdue/i).count()).toBe(0);
    const posted = await page.evaluate(
      async ({ id, by }) => {
        const s = (await (await fetch("/api/v1/session")).json()) as any;
        const res = await fetch(`/api/v1/incidents/${encodeURIComponent(id)}/updates`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-csrf-token": s.csrfToken },
          body: JSON.stringify({ body: "Still rolling back.", next_update_by: by, notify: false }),
        });
        return res.status;
      },
      { id: incidentId, by: new Date(Date.now() + 1_500).toISOString() },
    );
    expect(posted).toBeLessThan(300);
    // (the overview refreshes every 5 s)
    await page.getByText(/update overdue: promised by/i).waitFor({ timeout: 15_000 });
    await page.goto(`${c.base}/admin/incidents/${encodeURIComponent(incidentId)}`);
    await page.getByText(/update overdue: promised by/i).waitFor();
    await page.close();
  }, 90_000);

  let runId = "";
  it("previews a compensation run as the owner: totals and charts by city and rule", async () => {
    const page = watch(await owner.newPage());
    await page.goto(`${c.base}/admin/incidents/${A.incident.id}`);
    await page.getByRole("button", { name: "Preview compensation" }).click();
    await page.getByTestId("run-total").waitFor();
    runId = decodeURIComponent(page.url().split("/compensation/")[1]!);
    expect(await page.getByTestId("run-total").textContent()).toContain("88.48");
    await page
      .getByRole("list", { name: /By city/ })
      .first()
      .waitFor();
    expect(await page.getByRole("list", { name: /By rule/ }).count()).toBeGreaterThan(0);
    // Lines come a page of 50 at a time; three need no pager.
    await page.getByText("Lines 1–3 of 3").waitFor();
    expect(await page.getByRole("button", { name: "Next page" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Apply" }).count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, "console-run-preview-desktop.png"), fullPage: true });
    violations.push(...(await axeScan(page)));
    await page.close();
  }, 60_000);

  it("lets a finance user on a phone approve, apply with a progress bar, and export the run", async () => {
    const finance = await browser.newContext({
      viewport: PHONE,
      locale: "en-GB",
      isMobile: true,
      hasTouch: true,
      acceptDownloads: true,
    });
    const page = watch(await finance.newPage());
    await page.goto(`${c.base}/admin/`);
    await page.getByLabel("E-mail").fill(FINANCE.email);
    await page.getByLabel("Password").fill(FINANCE.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    // On a phone the sections fold into one line that names where you are.
    const nav = page.getByRole("navigation", { name: "Sections" });
    expect((await nav.boundingBox())!.height).toBeLessThan(60);
    await nav.getByText("Menu · Overview").click();
    await page.getByRole("link", { name: "Compensation" }).click();
    await page.getByRole("heading", { name: "Waiting for approval or applying" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "console-review-queue-phone.png"), fullPage: true });
    await page.getByRole("link", { name: runId }).first().click();
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("progress#apply-progress").waitFor();
    await page.getByText("Export (CSV)").waitFor();
    expect(await page.locator("progress#apply-progress").getAttribute("value")).toBeTruthy();
    expect(await noSidewaysScroll(page)).toBeLessThanOrEqual(0);
    // The charts' words are page text at a size one can read on a phone.
    const sizes = await page
      .locator(".bars li")
      .evaluateAll((els) =>
        els.map((e) => Number.parseFloat((globalThis as any).getComputedStyle(e).fontSize)),
      );
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(12);
    await page.screenshot({ path: join(SHOTS, "console-run-applied-phone.png"), fullPage: true });
    violations.push(...(await axeScan(page)));

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByText("Export (CSV)").click(),
    ]);
    const exported = readFileSync((await download.path())!, "utf8");
    expect(exported.split("\n")[0]).toContain("idempotency_key");
    expect(exported).toContain("C1");
    expect(exported).toContain("C3");
    await finance.close();
  }, 90_000);

  it("sets the status page's name, accent, logo and favicon, previews them, and the public page shows them", async () => {
    const page = watch(await owner.newPage());
    await page.goto(`${c.base}/admin/`);
    await page
      .getByRole("navigation", { name: "Sections" })
      .getByRole("link", { name: "Status page" })
      .click();
    await page.getByRole("heading", { name: "Status page", level: 1 }).waitFor();
    const preview = page.getByTestId("brand-preview");
    const previewButton = () =>
      preview
        .locator(".brand-preview-button")
        .evaluate((e) => (globalThis as any).getComputedStyle(e).backgroundColor as string);
    // Nothing set yet: the workspace's name and the page's own blue.
    expect(await page.getByLabel("Page name").getAttribute("placeholder")).toBe("The Fleet");
    expect(await preview.textContent()).toContain("The Fleet");
    expect(await previewButton()).toBe("rgb(5, 80, 174)");

    // What the API refuses is said beside the field it names.
    await page.getByLabel("Hex code").fill("teal");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("a colour as #rrggbb").waitFor();
    expect(await page.getByLabel("Hex code").getAttribute("aria-invalid")).toBe("true");

    // The preview follows what is typed before it is saved; the colour picker and the hex agree.
    await page.getByLabel("Page name").fill("Fleet Status");
    await page.getByLabel("Pick a colour").fill("#0f766e");
    expect(await page.getByLabel("Hex code").inputValue()).toBe("#0f766e");
    expect(await page.getByLabel("Hex code").getAttribute("aria-invalid")).toBeNull();
    expect(await preview.locator(".brand-preview-title").textContent()).toBe("Fleet Status status");
    expect(await previewButton()).toBe("rgb(15, 118, 110)");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.locator("form [role=status]").getByText("Saved.").waitFor();

    await page
      .getByLabel("Upload a logo")
      .setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: PNG });
    await page.getByRole("img", { name: "Current logo" }).waitFor();
    await preview.locator("img.brand-preview-logo").waitFor();
    await page
      .getByLabel("Upload a favicon")
      .setInputFiles({ name: "favicon.png", mimeType: "image/png", buffer: PNG });
    await page.getByRole("img", { name: "Current favicon" }).waitFor();

    const readBrand = () =>
      page.evaluate(
        async () => (await (await fetch("/api/v1/brand")).json()) as Record<string, string | null>,
      );
    const brand = await readBrand();
    expect(brand).toMatchObject({
      name: "Fleet Status",
      accent_color: "#0f766e",
      logo_url: expect.stringMatching(/^\/brand\/logo-[0-9a-f]+\.png$/),
      favicon_url: expect.stringMatching(/^\/brand\/favicon-[0-9a-f]+\.png$/),
    });
    expect(await preview.locator("img.brand-preview-logo").getAttribute("src")).toBe(brand.logo_url);
    await page.screenshot({ path: join(SHOTS, "console-status-page-look-desktop.png"), fullPage: true });
    violations.push(...(await axeScan(page)));

    const publicPage = await owner.newPage();
    const publicTop = async () => {
      await publicPage.goto(`${c.base}/`);
      return publicPage.evaluate(() => {
        const d = (globalThis as any).document;
        return {
          title: d.querySelector("header h1")?.textContent?.trim(),
          logo: d.querySelector("header img.logo")?.getAttribute("src") ?? null,
          icon: d.querySelector("link[rel=icon]")?.getAttribute("href"),
          bar: (globalThis as any).getComputedStyle(d.body).borderTopColor,
        };
      });
    };
    await expect.poll(publicTop, { timeout: 10_000 }).toEqual({
      title: "Fleet Status status",
      logo: brand.logo_url,
      icon: brand.favicon_url,
      bar: "rgb(15, 118, 110)",
    });
    expect((await fetch(`${c.base}${brand.logo_url}`)).status).toBe(200);

    // Removing the logo: the keyboard carries on from the file input, and the page drops it.
    await page.getByRole("button", { name: "Remove the logo" }).click();
    await page.getByText("No logo: the page shows its name alone.").waitFor();
    expect(await preview.locator("img.brand-preview-logo").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute("type"))).toBe(
      "file",
    );
    expect((await readBrand()).logo_url).toBeNull();
    await expect.poll(async () => (await publicTop()).logo, { timeout: 10_000 }).toBeNull();
    await publicPage.close();
    await page.close();
  }, 60_000);

  it("renders every view at desktop and phone widths without sideways scrolling, and axe finds nothing serious", async () => {
    const phone = await browser.newContext({
      viewport: PHONE,
      locale: "it-IT",
      isMobile: true,
      hasTouch: true,
    });
    // The owner's session cookie, shared with the phone context.
    await phone.addCookies(await owner.cookies());
    for (const [name, context] of [
      ["desktop", owner],
      ["phone", phone],
    ] as const) {
      const page = watch(await context.newPage());
      for (const view of [
        "",
        "components",
        "maintenance",
        "status-page",
        "notifications",
        "compensation",
        "monitors",
        "audit",
        "users",
        "tokens",
        "account",
      ]) {
        await page.goto(`${c.base}/admin/${view}`);
        await page.locator("main h1").first().waitFor();
        page.once("pageerror", (e) => cspViolations.push(`${view}: ${e.message}`));
        await page.waitForLoadState("networkidle");
        if (view === "monitors") {
          await page
            .getByRole("button", { name: /Laten[cz]/ }) // the phone reads Italian: "Latenza"
            .first()
            .click();
          await page.locator("figure.chart svg").first().waitFor();
          // The signal's observed and expected counts, and the alerts an integration received.
          await page.getByRole("button", { name: /Observed and expected|Osservato e atteso/ }).click();
          await page.getByText(/Now: observed 0, expected|Ora: osservato 0, atteso/).waitFor();
          await page.locator("figure.chart svg").first().waitFor();
          await page.getByRole("button", { name: /Alerts received|Allerte ricevute/ }).click();
          await page.getByText("End-rental errors in Milan").waitFor();
        }
        if (view === "notifications" && name === "desktop") {
          // Subscribers' choices by name: the component's path and the city, and an incident follower.
          const table = page.locator("table").filter({ hasText: "ada@example.com" });
          await table.waitFor();
          expect(await table.textContent()).toContain("Rentals › End rental, Milan");
          expect(await page.locator("table").filter({ hasText: "bo@example.com" }).textContent()).toContain(
            "only incident INC-SEED",
          );
        }
        if (view === "tokens" && name === "desktop") {
          await page.getByLabel("Name").fill("grafana");
          await page.getByRole("button", { name: "Create a token" }).click();
          expect(await page.locator("code.secret").textContent()).toMatch(/^amd_/);
        }
        if (view === "audit") {
          await page
            .locator("search button[type=submit]")
            .click({ timeout: 5_000 })
            .catch(async (e) => {
              await page.screenshot({ path: join(SHOTS, `console-FAILED-${name}.png`), fullPage: true });
              throw e;
            });
          await page.locator("table.audit tbody tr").first().waitFor();
          expect(await page.locator("table.audit").textContent()).toMatch(/approve/);
        }
        await page.screenshot({
          path: join(SHOTS, `console-${view || "overview"}-${name}.png`),
          fullPage: true,
        });
        expect(await noSidewaysScroll(page), `${view} at ${name}`).toBeLessThanOrEqual(0);
        violations.push(...(await axeScan(page)));
      }
      await page.close();
    }
    // Another language, chosen in the header and remembered.
    const it = watch(await phone.newPage());
    await it.goto(`${c.base}/admin/`);
    await it.getByLabel("Language").selectOption("it");
    await it.getByRole("heading", { name: "Panoramica" }).waitFor();
    expect(await it.locator("html").getAttribute("lang")).toBe("it");
    await it.reload();
    await it.getByRole("heading", { name: "Panoramica" }).waitFor();
    await it.getByRole("link", { name: "Rentals cannot be ended in Milan" }).waitFor();
    await it.screenshot({ path: join(SHOTS, "console-overview-it-phone.png"), fullPage: true });
    await phone.close();

    const login = watch(await (await browser.newContext({ viewport: PHONE })).newPage());
    await login.goto(`${c.base}/admin/`);
    await login.getByRole("heading", { name: "Sign in" }).waitFor();
    // Keyboard: the first Tab reaches the skip link, which moves focus to the main content.
    await login.keyboard.press("Tab");
    expect(await login.evaluate(() => (globalThis as any).document.activeElement?.className)).toBe("skip");
    await login.keyboard.press("Enter");
    expect(await login.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("main");
    await login.screenshot({ path: join(SHOTS, "console-sign-in-phone.png"), fullPage: true });
    violations.push(...(await axeScan(login)));

    expect(violations).toEqual([]);
    expect(cspViolations).toEqual([]);
  }, 180_000);
});
