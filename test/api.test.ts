import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app.ts";
import { BACKENDS } from "./support/backends.ts";

describe.each(BACKENDS)("API on %s", (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(backend);
    for (const c of [
      { id: "car-sharing", name: "Car sharing" },
      { id: "rentals", parent_id: "car-sharing", name: "Rentals" },
      { id: "end-rental", parent_id: "rentals", name: "End rental" },
      { id: "end-rental-milan", parent_id: "end-rental", name: "Milan", region: "milan" },
      { id: "end-rental-rome", parent_id: "end-rental", name: "Rome", region: "rome" },
    ]) {
      const res = await t.call("POST", "/api/v1/components", c);
      expect(res.status, JSON.stringify(res.json)).toBe(201);
    }
  });
  afterAll(() => t.close());

  it("lists components as a tree with inherited regions and paths", async () => {
    const res = await t.call("GET", "/api/v1/components");
    expect(res.status).toBe(200);
    const milan = res.json.components.find((c: any) => c.id === "end-rental-milan");
    expect(milan.path).toEqual(["Car sharing", "Rentals", "End rental", "Milan"]);
    expect(milan.effective_region).toBe("milan");
    expect(res.json.components.map((c: any) => c.id)[0]).toBe("car-sharing");
  });

  it("refuses a cycle in the tree", async () => {
    const res = await t.call("PATCH", "/api/v1/components/car-sharing", { parent_id: "end-rental-milan" });
    expect(res.status).toBe(409);
    expect(res.json.errors[0].field).toBe("parent_id");
  });

  it("opens, updates and resolves an incident; statuses roll up and return", async () => {
    const eta = new Date(Date.now() + 3_600_000).toISOString();
    const open = await t.call("POST", "/api/v1/incidents", {
      title: "Rentals cannot be ended in Milan",
      body: "We are investigating.",
      components: [{ id: "end-rental-milan", status: "major_outage" }],
      eta,
    });
    expect(open.status).toBe(201);
    expect(open.json.impact).toBe("critical");
    expect(open.json.eta).toBe(eta);
    const id = open.json.id;

    let comps = (await t.call("GET", "/api/v1/components")).json.components;
    expect(comps.find((c: any) => c.id === "end-rental-milan").status).toBe("major_outage");
    expect(comps.find((c: any) => c.id === "car-sharing").status).toBe("major_outage");
    expect(comps.find((c: any) => c.id === "end-rental-rome").status).toBe("operational");

    const upd = await t.call("POST", `/api/v1/incidents/${id}/updates`, {
      status: "identified",
      body: "A satellite link failed.",
      components: [{ id: "end-rental-milan", status: "partial_outage" }],
    });
    expect(upd.status).toBe(201);
    expect(upd.json.updates).toHaveLength(2);
    expect(upd.json.updates[1].components).toEqual([
      { id: "end-rental-milan", old_status: "major_outage", new_status: "partial_outage" },
    ]);
    expect(upd.json.eta).toBe(eta);
    expect(upd.json.identified_at).not.toBeNull();

    const res = await t.call("POST", `/api/v1/incidents/${id}/resolve`, {});
    expect(res.status).toBe(200);
    expect(res.json.status).toBe("resolved");
    expect(res.json.updates[2].components).toEqual([
      { id: "end-rental-milan", old_status: "partial_outage", new_status: "operational" },
    ]);
    comps = (await t.call("GET", "/api/v1/components")).json.components;
    expect(comps.find((c: any) => c.id === "end-rental-milan").status).toBe("operational");

    const again = await t.call("POST", `/api/v1/incidents/${id}/updates`, { body: "more" });
    expect(again.status).toBe(409);
  });

  it("keeps a component down while another open incident still affects it", async () => {
    const a = await t.call("POST", "/api/v1/incidents", {
      title: "A",
      body: "a",
      components: [{ id: "end-rental-rome", status: "major_outage" }],
    });
    const b = await t.call("POST", "/api/v1/incidents", {
      title: "B",
      body: "b",
      components: [{ id: "end-rental-rome", status: "degraded_performance" }],
    });
    const r = await t.call("POST", `/api/v1/incidents/${a.json.id}/resolve`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const rome = (await t.call("GET", "/api/v1/components/end-rental-rome")).json;
    expect(rome.status).toBe("degraded_performance");
    await t.call("POST", `/api/v1/incidents/${b.json.id}/resolve`);
    expect((await t.call("GET", "/api/v1/components/end-rental-rome")).json.status).toBe("operational");
    const open = await t.call("GET", "/api/v1/incidents?state=open");
    expect(open.json.incidents).toEqual([]);
  });

  describe("bad input gets a problem naming the field and changes nothing", () => {
    const cases: [string, string, unknown, number, string][] = [
      [
        "unknown component",
        "/api/v1/incidents",
        { title: "x", body: "y", components: [{ id: "nope", status: "major_outage" }] },
        400,
        "components.0.id",
      ],
      [
        "status not in enum",
        "/api/v1/incidents",
        { title: "x", body: "y", components: [{ id: "end-rental-rome", status: "broken" }] },
        400,
        "components.0.status",
      ],
      ["empty body", "/api/v1/incidents", undefined, 400, "body"],
      ["1 MB title", "/api/v1/incidents", { title: "x".repeat(1_000_000), body: "y" }, 400, "title"],
      ["unknown field", "/api/v1/incidents", { title: "x", body: "y", sevrity: "high" }, 400, "body"],
      ["bad date", "/api/v1/incidents", { title: "x", body: "y", eta: "tomorrow" }, 400, "eta"],
      ["missing title", "/api/v1/incidents", { body: "y" }, 400, "title"],
      [
        "component with unknown parent",
        "/api/v1/components",
        { name: "x", parent_id: "ghost" },
        400,
        "parent_id",
      ],
    ];
    it.each(cases)("%s", async (_name, url, body, status, field) => {
      const before = (await t.call("GET", "/api/v1/incidents")).json.incidents.length;
      const res = await t.call("POST", url, body);
      expect(res.status).toBe(status);
      expect(res.headers["content-type"]).toMatch(/application\/problem\+json/);
      expect(res.json.errors.map((e: any) => e.field)).toContain(field);
      expect((await t.call("GET", "/api/v1/incidents")).json.incidents.length).toBe(before);
    });

    it("an unknown component leaves no half-written incident", async () => {
      const res = await t.call("POST", "/api/v1/incidents", {
        id: "INC-HALF",
        title: "x",
        body: "y",
        components: [
          { id: "end-rental-rome", status: "major_outage" },
          { id: "nope", status: "major_outage" },
        ],
      });
      expect(res.status).toBe(400);
      expect((await t.call("GET", "/api/v1/incidents/INC-HALF")).status).toBe(404);
      expect((await t.call("GET", "/api/v1/components/end-rental-rome")).json.status).toBe("operational");
    });
  });

  it("refuses requests without a valid token", async () => {
    const none = await t.app.inject({ method: "GET", url: "/api/v1/incidents" });
    expect(none.statusCode).toBe(401);
    expect(none.headers["content-type"]).toMatch(/problem\+json/);
    const bad = await t.app.inject({
      method: "GET",
      url: "/api/v1/incidents",
      headers: { authorization: "Bearer amd_nope" },
    });
    expect(bad.statusCode).toBe(401);
  });

  it("honours token scopes and revocation", async () => {
    const created = await t.call("POST", "/api/v1/tokens", { name: "reader", scopes: ["read"] });
    expect(created.status).toBe(201);
    const reader = { authorization: `Bearer ${created.json.secret}` };
    expect(
      (await t.app.inject({ method: "GET", url: "/api/v1/incidents", headers: reader })).statusCode,
    ).toBe(200);
    const write = await t.app.inject({
      method: "POST",
      url: "/api/v1/incidents",
      headers: reader,
      payload: { title: "x", body: "y" },
    });
    expect(write.statusCode).toBe(403);
    await t.call("DELETE", `/api/v1/tokens/${created.json.id}`);
    expect(
      (await t.app.inject({ method: "GET", url: "/api/v1/incidents", headers: reader })).statusCode,
    ).toBe(401);
  });

  it("serves health, metrics and the OpenAPI document", async () => {
    expect((await t.app.inject("/healthz")).json()).toMatchObject({ status: "ok", database: backend });
    const metrics = await t.app.inject("/metrics");
    expect(metrics.body).toContain("amends_http_requests_total");
    expect(metrics.body).toContain("amends_open_incidents");
    const doc = (await t.app.inject("/api/v1/openapi.json")).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/v1/incidents", "/api/v1/incidents/{id}/updates"]),
    );
  });
});
