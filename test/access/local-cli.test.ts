/**
 * The CLI's local secret keeps acting with full rights, recorded as actor `local`; HEAD
 * requests are guarded like their GET.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/http/server.ts";
import type { Database } from "../../src/storage/database.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";

describe("the local CLI secret", () => {
  let database: Database;
  let app: Awaited<ReturnType<typeof buildServer>>;
  beforeAll(async () => {
    database = await freshDatabase("pglite");
    await createWorkspace(database.db, { slug: "fleet", name: "The Fleet" });
    app = await buildServer({ database, localSecret: "local-secret-for-the-test" });
  });
  afterAll(async () => {
    await app.close();
    await database.close();
  });

  it("acts as actor local, and the audit log says so", async () => {
    const headers = { authorization: "Bearer local-secret-for-the-test" };
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/components",
      headers,
      payload: { id: "payments", name: "Payments" },
    });
    expect(res.statusCode).toBe(201);
    const log = await app.inject({ method: "GET", url: "/api/v1/audit?action=component.create", headers });
    expect(log.json().items[0]).toMatchObject({
      actor: { kind: "local", id: "cli", name: "local CLI" },
      target: { type: "component", id: "payments" },
      before: null,
      after: { id: "payments", name: "Payments" },
    });
  });

  it("guards HEAD like GET", async () => {
    expect((await app.inject({ method: "HEAD", url: "/api/v1/incidents" })).statusCode).toBe(401);
    expect((await app.inject({ method: "HEAD", url: "/api/v1/audit" })).statusCode).toBe(401);
  });
});
