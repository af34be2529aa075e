/**
 * The CLI's local secret keeps acting with full rights, recorded as actor `local`; HEAD
 * requests are guarded like their GET; behind a TLS proxy the session cookie is Secure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "../../src/access/users.ts";
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

describe("behind a TLS proxy", () => {
  it("marks the session cookie Secure when the request came over https", async () => {
    const database = await freshDatabase("pglite");
    process.env.AMENDS_TRUST_PROXY = "1";
    const app = await buildServer({ database });
    delete process.env.AMENDS_TRUST_PROXY;
    try {
      const ws = await createWorkspace(database.db, { slug: "fleet", name: "The Fleet" });
      await createUser(
        database.db,
        {
          workspaceId: ws.id,
          email: "tls@fleet.example",
          name: "T",
          role: "viewer",
          password: "a long password",
        },
        new Date(),
      );
      const res = await app.inject({
        method: "POST",
        url: "/api/v1/session",
        headers: { "x-forwarded-proto": "https" },
        payload: { email: "tls@fleet.example", password: "a long password" },
      });
      expect(res.statusCode).toBe(200);
      expect(String(res.headers["set-cookie"])).toMatch(/; Secure/);
    } finally {
      await app.close();
      await database.close();
    }
  });
});

describe("sign-in attempts from one address", () => {
  it("are limited across e-mails too (credential stuffing)", async () => {
    const database = await freshDatabase("pglite");
    const app = await buildServer({
      database,
      access: { loginLimit: { max: 3, windowMs: 60_000, perClient: 8 } },
    });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 9; i++) {
        const res = await app.inject({
          method: "POST",
          url: "/api/v1/session",
          payload: { email: `guess${i}@fleet.example`, password: "password123" },
        });
        codes.push(res.statusCode);
      }
      expect(codes).toEqual([401, 401, 401, 401, 401, 401, 401, 401, 429]);
      // Another address is not held back.
      const other = await app.inject({
        method: "POST",
        url: "/api/v1/session",
        remoteAddress: "10.0.0.9",
        payload: { email: "guess0@fleet.example", password: "password123" },
      });
      expect(other.statusCode).toBe(401);
    } finally {
      await app.close();
      await database.close();
    }
  });
});
