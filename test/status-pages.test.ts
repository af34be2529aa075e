import { describe, expect, it } from "vitest";
import { smtpSender } from "../src/notifications/channels/email.ts";
import { closeChannels } from "../src/notifications/channels/index.ts";
import { startTestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";
import { leaves, SmtpFake } from "./support/fakes/smtp.ts";
import { until } from "./support/until.ts";

describe.each(BACKENDS)("several pages per workspace, and private ones (%s)", (backend) => {
  it("shows each page its components, by host name or path, and keeps private pages private", async () => {
    let clock = Date.parse("2026-12-01T10:00:00Z");
    const now = () => new Date(clock);
    const smtp = await new SmtpFake().start();
    const channels = { email: [smtpSender({ url: smtp.url, from: "status@fleet.test" })] };
    const t = await startTestApp(backend, { now, channels });
    const get = (url: string, headers: Record<string, string> = {}, ip = "192.0.2.1") =>
      t.app.inject({ url, headers, remoteAddress: ip });
    try {
      await t.call("POST", "/api/v1/components", { id: "milan", name: "Milan", region: "milan" });
      await t.call("POST", "/api/v1/components", {
        id: "milan-rentals",
        name: "Rentals",
        parent_id: "milan",
      });
      await t.call("POST", "/api/v1/components", { id: "rome", name: "Rome", region: "rome" });
      const milan = await t.call("POST", "/api/v1/status-pages", {
        id: "milan",
        name: "The Fleet Milan",
        hostname: "status.milan.example.com",
        components: ["milan"],
      });
      expect(milan.status, JSON.stringify(milan.json)).toBe(201);
      const bad = await t.call("POST", "/api/v1/status-pages", {
        id: "x",
        name: "x",
        components: ["nope"],
        ip_allow: ["10.0.0.0/99"],
      });
      expect(bad.status).toBe(400);
      await t.call("POST", "/api/v1/incidents", {
        title: "Rome payments fail",
        body: "Cards are declined.",
        components: [{ id: "rome", status: "major_outage" }],
      });

      // The default page shows everything, as before.
      const all = (await get("/api/v2/summary.json")).json();
      expect(all.components.map((c: any) => c.id).sort()).toEqual(["milan", "milan-rentals", "rome"]);
      expect(all.incidents).toHaveLength(1);

      // A Rome customer sees Rome first (the city filter); an unknown city changes nothing.
      const tree = (html: string) => html.slice(html.indexOf('id="components-h"'));
      const order = (html: string) => [tree(html).indexOf("<span>Milan<"), tree(html).indexOf("<span>Rome<")];
      const [milanAt, romeAt] = order((await get("/?region=rome")).body);
      expect(romeAt).toBeGreaterThan(0);
      expect(romeAt).toBeLessThan(milanAt!);
      const [m2, r2] = order((await get("/?region=atlantis")).body);
      expect(m2).toBeLessThan(r2!);
      expect((await get("/?region=rome")).body).toContain('<option value="rome" selected>Rome</option>');
      // Cities read by their names, never as ids.
      expect((await get("/")).body).toContain('<a href="?region=milan">Milan</a>');
      expect((await get("/")).body).not.toMatch(/\(milan\)|>milan</);

      // Milan's page, by its host name and by path: Milan only, all clear.
      for (const [url, headers] of [
        ["/api/v2/summary.json", { host: "status.milan.example.com" }],
        ["/p/milan/api/v2/summary.json", {}],
      ] as const) {
        const page = (await get(url, headers)).json();
        expect(page.components.map((c: any) => c.id).sort()).toEqual(["milan", "milan-rentals"]);
        expect(page.incidents).toEqual([]);
        expect(page.status.indicator).toBe("none");
        expect(page.page.name).toBe("The Fleet Milan");
      }
      const html = (await get("/p/milan/")).body;
      expect(html).toContain("The Fleet Milan");
      expect(html).not.toContain("Rome payments fail");
      expect(html).toContain('href="/p/milan/api/v2/summary.json"');
      expect((await get("/p/nope/")).statusCode).toBe(404);

      // A change on Milan shows on Milan's page at the next request.
      await t.call("POST", "/api/v1/incidents", {
        title: "Milan rentals cannot end",
        body: "Leave the car parked.",
        components: [{ id: "milan-rentals", status: "partial_outage" }],
      });
      const after = (await get("/api/v2/summary.json", { host: "status.milan.example.com" })).json();
      expect(after.incidents.map((i: any) => i.name)).toEqual(["Milan rentals cannot end"]);

      // A private page: a password, staff e-mail links, or the office network.
      const ops = await t.call("POST", "/api/v1/status-pages", {
        id: "ops",
        name: "Operations",
        components: ["milan", "rome"],
        password: "correct horse battery",
        email_domains: ["fleet.test"],
        ip_allow: ["10.9.0.0/16"],
      });
      expect(ops.status, JSON.stringify(ops.json)).toBe(201);
      expect(ops.json).toMatchObject({ private: true, password: true });
      const outside = await get("/p/ops/");
      expect(outside.statusCode).toBe(303);
      expect(outside.headers.location).toBe("/p/ops/login");
      expect((await get("/p/ops/api/v2/summary.json")).statusCode).toBe(401);
      const office = await get("/p/ops/", {}, "10.9.3.4");
      expect(office.statusCode).toBe(200);
      expect(office.headers["cache-control"]).toBe("private, no-cache");

      const login = (body: string) =>
        t.app.inject({
          method: "POST",
          url: "/p/ops/login",
          remoteAddress: "192.0.2.7",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          payload: body,
        });
      expect((await get("/p/ops/login")).body).toContain('name="password"');
      expect((await login("password=wrong")).statusCode).toBe(401);
      const ok = await login("password=correct+horse+battery");
      expect(ok.statusCode).toBe(303);
      const cookie = String(ok.headers["set-cookie"]).split(";")[0]!;
      expect((await get("/p/ops/", { cookie })).statusCode).toBe(200);
      expect((await get("/p/ops/", { cookie: `${cookie}x` })).statusCode).toBe(303);

      // The e-mail link: sent only to an allowed domain, the same answer either way.
      expect((await login("email=eve%40elsewhere.test")).statusCode).toBe(202);
      expect((await login("email=bob%40fleet.test")).statusCode).toBe(202);
      await until("the login link is mailed", () => smtp.received.length > 0);
      expect(smtp.received.map((m) => m.to)).toEqual([["bob@fleet.test"]]);
      const text = leaves(smtp.received[0]!.message)
        .map((p) => p.body)
        .join("\n");
      const link = new URL(/https?:\/\/\S+\/login\/verify\?t=[\w.-]+/.exec(text)![0]);
      const verified = await get(`${link.pathname}${link.search}`);
      expect(verified.statusCode).toBe(303);
      const cookie2 = String(verified.headers["set-cookie"]).split(";")[0]!;
      expect((await get("/p/ops/api/v2/summary.json", { cookie: cookie2 })).json().incidents).toHaveLength(2);
      // An hour later the link no longer works.
      clock += 2 * 3_600_000;
      expect((await get(`${link.pathname}${link.search}`)).statusCode).toBe(401);
    } finally {
      await t.close();
      await closeChannels(channels);
      await smtp.stop();
    }
  });
});
