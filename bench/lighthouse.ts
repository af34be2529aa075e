/**
 * Lighthouse on the public page, offline, driving Debian's Chromium: the demo workspace (with its
 * brand) served in-process, its front page and its past incident's page, as a desktop and as a
 * phone. Prints each category's score and every scored audit that fell short.
 *
 *   npx tsx bench/lighthouse.ts [--open]     # --open: with an incident under way
 *
 * Targets (issue 20): performance >= 99, accessibility 100, best practices 100, SEO >= 95.
 * Prints figures; never fails on a target. axe's own scan is in test/status-page-browser.test.ts.
 */
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import * as chromeLauncher from "chrome-launcher";
import lighthouse, { type Flags } from "lighthouse";
import desktopConfig from "lighthouse/core/config/desktop-config.js";
import { loadDemo } from "../src/demo/load.ts";
import { buildServer } from "../src/http/server.ts";
import { openDatabase } from "../src/storage/database.ts";
import { CHROMIUM } from "../test/support/browser.ts";

const { values: args } = parseArgs({ options: { open: { type: "boolean", default: false } } });
const CATEGORIES = ["performance", "accessibility", "best-practices", "seo"];

const database = await openDatabase({ memory: true });
const demo = await loadDemo(database, new Date());
const app = await buildServer({ database, s3: false });
await app.listen({ port: 0, host: "127.0.0.1" });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const api = async (method: string, path: string, body?: unknown) => {
  const res = await app.inject({
    method: method as "GET",
    url: `/api/v1${path}`,
    headers: { authorization: `Bearer ${demo.token}` },
    ...(body !== undefined && { payload: body as object }),
  });
  return res.json();
};
const past = (await api("GET", "/incidents?state=all")).incidents[0];
if (args.open) {
  const components = (await api("GET", "/components")).components;
  const milan = components.find((c: { region: string | null }) => c.region === "milan");
  await api("POST", "/incidents", {
    title: "Rentals cannot be ended in Milan",
    body: "Leave the car parked safely; you will not pay for the extra time.",
    components: [{ id: milan.id, status: "major_outage" }],
    next_update_by: new Date(Date.now() + 1_800_000).toISOString(),
  });
}

const chrome = await chromeLauncher.launch({
  chromePath: CHROMIUM,
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu"],
});
console.log(`Lighthouse on the demo page${args.open ? " with an incident under way" : ""} (${base})`);
console.log("page                 form     perf  a11y  best  seo");
const short: string[] = [];
try {
  for (const [name, path] of [
    ["front page", "/"],
    ["incident page", `/incidents/${past.id}`],
  ] as const) {
    for (const form of ["desktop", "phone"] as const) {
      const flags: Flags = {
        port: chrome.port,
        output: "json",
        logLevel: "error",
        onlyCategories: CATEGORIES,
      };
      const result = await lighthouse(
        `${base}${path}`,
        flags,
        form === "desktop" ? desktopConfig : undefined,
      );
      if (!result) throw new Error("Lighthouse gave no result");
      const { categories, audits } = result.lhr;
      const score = (id: string) => String(Math.round((categories[id]?.score ?? 0) * 100)).padStart(4);
      console.log(`${name.padEnd(20)} ${form.padEnd(7)} ${CATEGORIES.map(score).join("  ")}`);
      for (const id of CATEGORIES)
        for (const ref of categories[id]?.auditRefs ?? []) {
          const audit = audits[ref.id];
          if (ref.weight > 0 && audit && audit.score !== null && audit.score < 1)
            short.push(`  ${name}, ${form}: ${id} › ${audit.title} (${audit.displayValue ?? audit.score})`);
        }
    }
  }
} finally {
  await chrome.kill();
  await app.close();
  await database.close();
}
console.log(short.length ? `Short of full marks:\n${short.join("\n")}` : "Every scored audit passed.");
