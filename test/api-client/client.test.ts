/**
 * The API document as generators and linters read it: Redocly's recommended rules find no
 * error, and a client generated from it (openapi-typescript types + openapi-fetch) calls a
 * running server and type-checks (`npm run typecheck` compiles this file against the types).
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.ts";
import type { paths } from "./amends-api.ts";
import { clientTypes, servedDocument, TYPES_FILE } from "./generate.ts";

describe("the OpenAPI document", () => {
  let doc: any;
  beforeAll(async () => {
    doc = await servedDocument();
  });

  it("passes Redocly's recommended rules without an error", async () => {
    const config = await createConfig({ extends: ["recommended"] });
    const problems = await lintFromString({
      source: JSON.stringify(doc),
      absoluteRef: "amends.json",
      config,
    });
    const found = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} ${p.location[0]?.pointer}`);
    // The one warning left: Amends ships no licence to name.
    expect(found).toEqual([expect.stringMatching(/^warn info-license/)]);
  });

  it("holds only the API, each operation named, summarised and with its problem+json errors", () => {
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries<Record<string, any>>(doc.paths)) {
      expect(path).toMatch(/^\/api\/v1\//);
      for (const [method, op] of Object.entries<any>(operations)) {
        const where = `${method} ${path}`;
        expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
        expect(ids.has(op.operationId), `${where}: ${op.operationId} twice`).toBe(false);
        ids.add(op.operationId);
        expect(op.summary, where).toBeTruthy();
        const errors = Object.keys(op.responses).filter((s) => s.startsWith("4"));
        expect(errors.length, where).toBeGreaterThan(0);
        if (op.parameters?.some((p: any) => p.in === "path")) expect(errors, where).toContain("404");
        if (op.security?.length !== 0) expect(errors, where).toEqual(expect.arrayContaining(["401", "403"]));
      }
    }
    expect(ids.size).toBeGreaterThan(90);
    expect(doc.paths["/api/v1/session"].post.responses["429"]).toEqual({
      $ref: "#/components/responses/TooManyRequests",
    });
    expect(doc.components.responses.NotFound.content["application/problem+json"].schema).toEqual({
      $ref: "#/components/schemas/Problem",
    });
  });

  it("matches the committed client types (npm run api:types writes them)", async () => {
    expect(await clientTypes(doc)).toBe(readFileSync(TYPES_FILE, "utf8"));
  });
});

describe("a generated client", () => {
  let t: TestApp;
  let client: ReturnType<typeof createClient<paths>>;
  beforeAll(async () => {
    t = await startTestApp("pglite");
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = t.app.server.address() as AddressInfo;
    client = createClient<paths>({
      baseUrl: `http://127.0.0.1:${port}`,
      headers: { authorization: `Bearer ${t.token}` },
    });
  });
  afterAll(() => t.close());

  it("creates and reads components, opens an incident, and reads problems as typed errors", async () => {
    const created = await client.POST("/api/v1/components", { body: { name: "Rentals" } });
    expect(created.response.status).toBe(201);
    const rentals = created.data!;
    const milan = await client.POST("/api/v1/components", {
      body: { name: "Milan", parent_id: rentals.id, region: "milan" },
    });
    expect(milan.data?.path).toEqual(["Rentals", "Milan"]);

    const listed = await client.GET("/api/v1/components");
    expect(listed.data?.components.map((c) => c.name)).toEqual(["Rentals", "Milan"]);

    const opened = await client.POST("/api/v1/incidents", {
      body: {
        title: "Rentals cannot be ended in Milan",
        impact: "major",
        components: [{ id: milan.data!.id, status: "major_outage" }],
        body: "We are looking into it.",
      },
    });
    expect(opened.response.status).toBe(201);
    const incident = await client.GET("/api/v1/incidents/{id}", {
      params: { path: { id: opened.data!.id } },
    });
    expect(incident.data?.title).toBe("Rentals cannot be ended in Milan");

    const missing = await client.GET("/api/v1/components/{id}", { params: { path: { id: "no-such" } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.code).toBe("NOT_FOUND");

    const bad = await client.POST("/api/v1/components", { body: { name: "" } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.errors?.[0]?.field).toBe("name");
  });
});
