/**
 * Status the way a customer reads it: an incident on App shows App › Milan, Rome, Denver as
 * affected on the page, in the city view, on a city's own page, in the operators' API (what
 * the console shows) and in /api/v2; a failure in one city marks its parent, not its siblings.
 */
import { describe, expect, it } from "vitest";
import { startTestApp } from "./support/app.ts";

const CITIES = ["Milan", "Rome", "Denver"];

/** The status label of each component row on the page, by name. */
function rowStatuses(html: string): Record<string, string> {
  const tree = html.slice(html.indexOf('id="components-h"'));
  const out: Record<string, string> = {};
  for (const m of tree.matchAll(
    /<span class="row"><span>([^<]+?)\s*(?:<span class="region">[^<]*<\/span>)?<\/span><span class="s s-(\w+)">/g,
  ))
    out[m[1]!] = m[2]!;
  return out;
}

describe("a component under an affected ancestor", () => {
  it("shows as affected on the page, per city, in the API and in /api/v2", async () => {
    const t = await startTestApp("pglite");
    try {
      await t.call("POST", "/api/v1/components", { id: "app", name: "App" });
      for (const city of CITIES)
        await t.call("POST", "/api/v1/components", {
          id: `app-${city.toLowerCase()}`,
          name: city,
          parent_id: "app",
          region: city.toLowerCase(),
        });
      await t.call("POST", "/api/v1/components", { id: "payments", name: "Payments" });
      await t.call("POST", "/api/v1/status-pages", {
        id: "milan",
        name: "The Fleet Milan",
        hostname: "status.milan.example.com",
        components: ["app-milan"],
      });
      await t.call("POST", "/api/v1/import/customers", [
        { id: "C-1", email: "anna@example.com", home_region: "milan", currency: "EUR" },
        { id: "C-2", email: "luca@example.com", home_region: "milan", currency: "EUR" },
        { id: "C-3", email: "joe@example.com", home_region: "denver", currency: "USD" },
        { id: "C-4", email: "eva@example.com", home_region: "rome", currency: "EUR" },
      ]);
      const session = (id: string, customer: string, city: string, startedAt: string) => ({
        id,
        customer_id: customer,
        kind: "rental",
        component_id: `app-${city}`,
        region: city,
        started_at: startedAt,
        ended_at: null,
        charge: 1_000,
        currency: city === "denver" ? "USD" : "EUR",
      });
      const now = Date.now();
      const ago = (min: number) => new Date(now - min * 60_000).toISOString();
      const sessions = await t.call("POST", "/api/v1/import/sessions", [
        session("S-1", "C-1", "milan", ago(30)),
        session("S-2", "C-2", "milan", ago(20)),
        session("S-3", "C-3", "denver", ago(10)),
        // Rome's rental ended a day before the incident: not touched.
        { ...session("S-4", "C-4", "rome", ago(26 * 60)), ended_at: ago(25 * 60) },
      ]);
      expect(sessions.status, JSON.stringify(sessions.json)).toBeLessThan(300);
      const opened = await t.call("POST", "/api/v1/incidents", {
        id: "INC-APP",
        title: "The app cannot start rentals",
        body: "We are on it.",
        components: [{ id: "app", status: "partial_outage" }],
      });
      expect(opened.status, JSON.stringify(opened.json)).toBe(201);

      for (const url of ["/", "/?region=milan", "/it/?region=denver"]) {
        const rows = rowStatuses((await t.app.inject(url)).body);
        for (const name of ["App", ...CITIES]) expect(rows[name], `${url} ${name}`).toBe("partial_outage");
        expect(rows.Payments, url).toBe("operational");
      }
      // Milan's own page: Milan is affected, and the App incident that affects it is listed.
      const milanPage = (await t.app.inject({ url: "/", headers: { host: "status.milan.example.com" } }))
        .body;
      expect(rowStatuses(milanPage).Milan).toBe("partial_outage");
      expect(milanPage).toContain("The app cannot start rentals");
      const milanSummary = (
        await t.app.inject({ url: "/api/v2/summary.json", headers: { host: "status.milan.example.com" } })
      ).json();
      expect(milanSummary.incidents.map((i: { id: string }) => i.id)).toEqual(["INC-APP"]);
      expect(milanSummary.status.indicator).toBe("major");

      // What the console lists, and the Statuspage-shaped API.
      const api = (await t.call("GET", "/api/v1/components")).json.components;
      const v2 = (await t.app.inject("/api/v2/components.json")).json().components;
      for (const list of [api, v2]) {
        const status = Object.fromEntries(list.map((c: { id: string; status: string }) => [c.id, c.status]));
        expect(status).toMatchObject({
          app: "partial_outage",
          "app-milan": "partial_outage",
          "app-rome": "partial_outage",
          "app-denver": "partial_outage",
          payments: "operational",
        });
      }

      // Operators see how many customers it touches, per city, while it is open.
      const affected = (await t.call("GET", "/api/v1/incidents/INC-APP/affected")).json;
      expect(affected).toEqual({
        incident_id: "INC-APP",
        open: true,
        customers: 3,
        regions: [
          { region: "milan", name: "Milan", customers: 2 },
          { region: "denver", name: "Denver", customers: 1 },
        ],
      });
      expect((await t.call("GET", "/api/v1/incidents/nope/affected")).status).toBe(404);

      // A failure in Rome alone: Rome and App, not Milan.
      await t.call("POST", "/api/v1/incidents/INC-APP/resolve", {});
      await t.call("POST", "/api/v1/incidents", {
        title: "Rome rentals fail",
        body: "Looking.",
        components: [{ id: "app-rome", status: "major_outage" }],
      });
      const rows = rowStatuses((await t.app.inject("/")).body);
      expect(rows).toMatchObject({ App: "major_outage", Rome: "major_outage", Milan: "operational" });
    } finally {
      await t.close();
    }
  });
});
