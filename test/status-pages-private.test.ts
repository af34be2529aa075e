/**
 * Private means private: a private page's sign-ins end when who may enter changes, and what
 * only private pages show never reaches a public document (page, /api/v2, feeds, iCal, badge,
 * widget, the static export, the S3 copy); an incident spanning both shows its public part.
 */
import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { buildServer } from "../src/http/server.ts";
import { smtpSender } from "../src/notifications/channels/email.ts";
import { closeChannels } from "../src/notifications/channels/index.ts";
import { collectStatic, PUBLIC_DOCUMENTS } from "../src/status-page/static-copy.ts";
import { startTestApp } from "./support/app.ts";
import { S3Fake } from "./support/fakes/s3.ts";
import { leaves, SmtpFake } from "./support/fakes/smtp.ts";
import { until } from "./support/until.ts";

/** A sign-in form posted to the "ops" page, as a browser at `remoteAddress` sends it. */
const signInPost = (app: FastifyInstance, body: string, remoteAddress: string) =>
  app.inject({
    method: "POST",
    url: "/p/ops/login",
    remoteAddress,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: body,
  });

describe("a private page's sign-in", () => {
  it("allows ten attempts per address in ten minutes, counted by every process together", async () => {
    const t = await startTestApp("pglite");
    const other = await buildServer({ database: t.database });
    try {
      await t.call("POST", "/api/v1/components", { id: "ops", name: "Ops" });
      const created = await t.call("POST", "/api/v1/status-pages", {
        id: "ops",
        name: "Operations",
        components: ["ops"],
        password: "correct horse battery",
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const attempt = (app: FastifyInstance, password: string, remoteAddress = "192.0.2.7") =>
        signInPost(app, `password=${encodeURIComponent(password)}`, remoteAddress);
      for (let i = 0; i < 10; i++)
        expect((await attempt(i % 2 ? other : t.app, `wrong guess ${i}`)).statusCode).toBe(401);
      // The eleventh, on either process, is refused even with the right password.
      expect((await attempt(other, "correct horse battery")).statusCode).toBe(401);
      expect((await attempt(t.app, "correct horse battery")).statusCode).toBe(401);
      expect((await attempt(t.app, "correct horse battery", "192.0.2.8")).statusCode).toBe(303);
    } finally {
      await other.close();
      await t.close();
    }
  });

  it("ends when its password, e-mail domains or IP list change, not when its name does", async () => {
    const clock = Date.parse("2026-12-01T10:00:00Z");
    const smtp = await new SmtpFake().start();
    const channels = { email: [smtpSender({ url: smtp.url, from: "status@fleet.test" })] };
    const t = await startTestApp("pglite", { now: () => new Date(clock), channels });
    const get = (url: string, cookie?: string) =>
      t.app.inject({ url, headers: cookie ? { cookie } : {}, remoteAddress: "192.0.2.1" });
    const post = (body: string) => signInPost(t.app, body, "192.0.2.1");
    let password = "correct horse battery";
    const signIn = async () => {
      const res = await post(`password=${encodeURIComponent(password)}`);
      expect(res.statusCode).toBe(303);
      const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
      expect((await get("/p/ops/", cookie)).statusCode).toBe(200);
      return cookie;
    };
    const page = {
      name: "Operations",
      components: ["ops"],
      email_domains: ["fleet.test"],
      ip_allow: ["10.9.0.0/16"],
    };
    const put = async (body: Record<string, unknown>) => {
      const res = await t.call("PUT", "/api/v1/status-pages/ops", body);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
    };
    const signedOut = async (cookie: string) => {
      const res = await get("/p/ops/", cookie);
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe("/p/ops/login");
      expect((await get("/p/ops/api/v2/summary.json", cookie)).statusCode).toBe(401);
    };
    try {
      await t.call("POST", "/api/v1/components", { id: "ops", name: "Ops" });
      const created = await t.call("POST", "/api/v1/status-pages", { id: "ops", ...page, password });
      expect(created.status, JSON.stringify(created.json)).toBe(201);

      // A new name leaves everyone signed in.
      let cookie = await signIn();
      await put({ ...page, name: "Operations room" });
      expect((await get("/p/ops/", cookie)).statusCode).toBe(200);

      // A new password signs everyone out; the new one signs in again.
      password = "a brand new secret";
      await put({ ...page, password });
      await signedOut(cookie);
      cookie = await signIn();

      // So do other e-mail domains, and a login link mailed before the change stops working.
      expect((await post("email=bob%40fleet.test")).statusCode).toBe(202);
      await until("the login link is mailed", () => smtp.received.length > 0);
      const text = leaves(smtp.received[0]!.message)
        .map((p) => p.body)
        .join("\n");
      const link = new URL(/https?:\/\/\S+\/login\/verify\?t=[\w.-]+/.exec(text)![0]);
      await put({ ...page, email_domains: ["fleet.test", "partner.test"] });
      await signedOut(cookie);
      expect((await get(`${link.pathname}${link.search}`)).statusCode).toBe(401);
      cookie = await signIn();

      // And another IP list.
      await put({ ...page, email_domains: ["fleet.test", "partner.test"], ip_allow: ["10.8.0.0/16"] });
      await signedOut(cookie);
      cookie = await signIn();
      expect((await get("/p/ops/", cookie)).statusCode).toBe(200);
    } finally {
      await t.close();
      await closeChannels(channels);
      await smtp.stop();
    }
  });
});

describe("components shown only on private pages", () => {
  it("never reach a public document; an incident spanning both shows its public part", async () => {
    const credentials = { accessKeyId: "AKIAFLEET", secretAccessKey: "fleet-secret-key" };
    const s3 = await new S3Fake("status-copy", credentials, "eu-south-1").start();
    const t = await startTestApp("pglite", {
      now: () => new Date("2026-12-01T10:00:00Z"),
      s3: { url: `${s3.url}/status-copy/fleet`, region: "eu-south-1", ...credentials },
    });
    try {
      for (const c of [
        { id: "app", name: "App" },
        { id: "app-milan", name: "Milan", parent_id: "app", region: "milan" },
        { id: "app-rome", name: "Rome", parent_id: "app", region: "rome" },
        { id: "vault", name: "Secret Vault" },
        { id: "vault-eu", name: "Vault Europe", parent_id: "vault" },
      ])
        expect((await t.call("POST", "/api/v1/components", c)).status).toBe(201);
      const ops = await t.call("POST", "/api/v1/status-pages", {
        id: "ops",
        name: "Operations",
        components: ["vault"],
        password: "correct horse battery",
      });
      expect(ops.status, JSON.stringify(ops.json)).toBe(201);
      await t.call("POST", "/api/v1/status-pages", {
        id: "milan",
        name: "The Fleet Milan",
        hostname: "status.milan.example.com",
        components: ["app-milan"],
      });
      const open = async (body: Record<string, unknown>) => {
        const res = await t.call("POST", "/api/v1/incidents", body);
        expect(res.status, JSON.stringify(res.json)).toBe(201);
      };
      await open({
        id: "INC-VAULT",
        title: "Vault keys rotate badly",
        body: "The vault is sealed.",
        components: [{ id: "vault-eu", status: "major_outage" }],
      });
      await open({
        id: "INC-BOTH",
        title: "Sync is slow",
        body: "Looking into it.",
        components: [
          { id: "app-milan", status: "partial_outage" },
          { id: "vault", status: "major_outage" },
        ],
      });
      await open({
        id: "INC-OLD",
        title: "Vault was down",
        body: "The vault was down.",
        components: [{ id: "vault", status: "major_outage" }],
      });
      expect(
        (await t.call("POST", "/api/v1/incidents/INC-OLD/resolve", { body: "Vault back." })).status,
      ).toBe(200);
      for (const [id, title, components] of [
        ["MNT-VAULT", "Vault rotation", ["vault"]],
        ["MNT-BOTH", "Platform upgrade", ["app", "vault-eu"]],
      ] as const) {
        const res = await t.call("POST", "/api/v1/maintenances", {
          id,
          title,
          body: "Planned.",
          components,
          starts_at: "2026-12-02T02:00:00Z",
          ends_at: "2026-12-02T04:00:00Z",
        });
        expect(res.status, JSON.stringify(res.json)).toBe(201);
      }
      const leaks = (body: string) => /vault/i.test(body);

      const documents = [
        "/",
        "/it/",
        "/?region=milan",
        "/incidents/INC-BOTH",
        "/it/incidents/INC-BOTH",
        ...PUBLIC_DOCUMENTS,
        "/maintenance.ics?component=vault",
      ];
      for (const host of ["localhost", "status.milan.example.com"])
        for (const url of documents) {
          const res = await t.app.inject({ url, headers: { host } });
          expect(res.statusCode, `${host}${url}`).toBe(200);
          expect(leaks(res.body), `${host}${url}`).toBe(false);
        }
      for (const url of [
        "/incidents/INC-VAULT",
        "/incidents/INC-OLD",
        "/it/incidents/INC-VAULT",
        "/incidents/INC-VAULT/report",
      ])
        expect((await t.app.inject(url)).statusCode, url).toBe(404);

      // The spanning incident shows its public part; the indicator is the public one.
      const summary = (await t.app.inject("/api/v2/summary.json")).json();
      expect(summary.components.map((c: { id: string }) => c.id).sort()).toEqual([
        "app",
        "app-milan",
        "app-rome",
      ]);
      expect(summary.incidents.map((i: { id: string }) => i.id)).toEqual(["INC-BOTH"]);
      const both = summary.incidents[0];
      expect(both.components.map((c: { id: string }) => c.id)).toEqual(["app-milan"]);
      expect(both.incident_updates[0].affected_components.map((c: { code: string }) => c.code)).toEqual([
        "app-milan",
      ]);
      expect(summary.status.indicator).toBe("major");
      // Its impact is its public part's (a partial outage), not the vault's major one.
      expect(both.impact).toBe("major");
      expect(summary.scheduled_maintenances.map((m: { id: string }) => m.id)).toEqual(["MNT-BOTH"]);
      expect(summary.scheduled_maintenances[0].components.map((c: { id: string }) => c.id)).toEqual(["app"]);
      const milan = (
        await t.app.inject({ url: "/api/v2/summary.json", headers: { host: "status.milan.example.com" } })
      ).json();
      expect(milan.incidents.map((i: { id: string }) => i.id)).toEqual(["INC-BOTH"]);
      expect((await t.app.inject("/")).body).toContain("Sync is slow");

      // The private page, signed in, shows all of it.
      const login = await t.app.inject({
        method: "POST",
        url: "/p/ops/login",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: "password=correct+horse+battery",
      });
      const cookie = String(login.headers["set-cookie"]).split(";")[0]!;
      const inside = (await t.app.inject({ url: "/p/ops/api/v2/summary.json", headers: { cookie } })).json();
      expect(inside.incidents.map((i: { id: string }) => i.id).sort()).toEqual(["INC-BOTH", "INC-VAULT"]);
      expect(inside.components.map((c: { name: string }) => c.name)).toEqual([
        "Secret Vault",
        "Vault Europe",
      ]);

      // The static export and the S3 copy are the public page, file for file.
      const files = await collectStatic(async (path) => {
        const res = await t.app.inject({ url: path, headers: { "accept-encoding": "identity" } });
        return {
          status: res.statusCode,
          body: res.rawPayload,
          type: String(res.headers["content-type"] ?? ""),
        };
      });
      expect(files.map((f) => f.key)).toContain("incidents/INC-BOTH/index.html");
      for (const f of files) expect(leaks(f.body.toString()), f.key).toBe(false);
      await until(
        "the S3 copy shows the spanning incident",
        () => s3.objects.get("fleet/api/v2/summary.json")?.body.toString().includes("Sync is slow") ?? false,
        60_000,
      );
      await until(
        "the S3 copy has every incident page",
        () => s3.objects.has("fleet/incidents/INC-BOTH/index.html"),
        60_000,
      );
      for (const [key, object] of s3.objects) expect(leaks(object.body.toString()), key).toBe(false);
      expect([...s3.objects.keys()].some((k) => k.includes("INC-VAULT") || k.includes("INC-OLD"))).toBe(
        false,
      );
    } finally {
      await t.close();
      await s3.stop();
    }
  });
});
