/**
 * OpenID Connect sign-in against a local provider (fake-oidc.ts): a person who was invited
 * signs in with their verified e-mail, which links the identity; a stranger, a forged state
 * or a missing start cookie is refused.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "../../src/access/users.ts";
import { buildServer } from "../../src/http/server.ts";
import type { Database } from "../../src/storage/database.ts";
import { createWorkspace } from "../../src/workspaces/store.ts";
import { freshDatabase } from "../support/backends.ts";
import { type FakeOidc, startFakeOidc } from "./fake-oidc.ts";
import { sessionCookie } from "./helpers.ts";

const PUBLIC_URL = "http://amends.test";

describe("OpenID Connect sign-in", () => {
  let provider: FakeOidc;
  let database: Database;
  let app: FastifyInstance;
  beforeAll(async () => {
    provider = await startFakeOidc();
    database = await freshDatabase("pglite");
    const ws = await createWorkspace(database.db, { slug: "fleet", name: "The Fleet" });
    await createUser(
      database.db,
      { workspaceId: ws.id, email: "ada@fleet.example", name: "Ada", role: "responder" },
      new Date(),
    );
    app = await buildServer({
      database,
      access: {
        oidc: {
          issuer: provider.issuer,
          clientId: provider.clientId,
          clientSecret: provider.clientSecret,
          publicUrl: PUBLIC_URL,
        },
      },
    });
  });
  afterAll(async () => {
    await app.close();
    await database.close();
    await provider.close();
  });

  /** Start at Amends, let the provider consent, and come back; returns the callback's answer. */
  async function roundTrip(tamper: (callback: URL) => void = () => {}, keepCookie = true) {
    const start = await app.inject({ method: "GET", url: "/api/v1/session/oidc" });
    expect(start.statusCode).toBe(302);
    const startCookie = String(start.headers["set-cookie"]).split(";")[0]!;
    expect(String(start.headers["set-cookie"])).toMatch(/HttpOnly.*SameSite=Lax|SameSite=Lax.*HttpOnly/);
    const atProvider = await fetch(String(start.headers.location), { redirect: "manual" });
    expect(atProvider.status).toBe(302);
    const callback = new URL(atProvider.headers.get("location")!);
    expect(callback.origin + callback.pathname).toBe(`${PUBLIC_URL}/api/v1/session/oidc/callback`);
    tamper(callback);
    return app.inject({
      method: "GET",
      url: callback.pathname + callback.search,
      headers: keepCookie ? { cookie: startCookie } : {},
    });
  }

  it("signs in an invited person by verified e-mail, then by the linked identity", async () => {
    const first = await roundTrip();
    expect(first.statusCode, first.body).toBe(302);
    expect(first.headers.location).toBe("/admin/");
    const cookie = sessionCookie(first.headers)!;
    const me = await app.inject({ method: "GET", url: "/api/v1/session", headers: { cookie } });
    expect(me.json().user).toMatchObject({ email: "ada@fleet.example", role: "responder" });

    // Linked now: the provider's e-mail may change, the identity still signs her in.
    provider.person = { sub: "user-1", email: "ada.new@fleet.example", email_verified: true };
    expect((await roundTrip()).statusCode).toBe(302);
  });

  it("refuses strangers, unverified e-mails, forged state and a missing start cookie", async () => {
    provider.person = { sub: "user-2", email: "mallory@evil.example", email_verified: true };
    expect((await roundTrip()).statusCode).toBe(401);
    provider.person = { sub: "user-3", email: "ada@fleet.example", email_verified: false };
    expect((await roundTrip()).statusCode).toBe(401);
    provider.person = { sub: "user-1", email: "ada@fleet.example", email_verified: true };
    const forged = await roundTrip((u) => u.searchParams.set("state", "forged"));
    expect(forged.statusCode).toBe(401);
    expect(sessionCookie(forged.headers)).toBeUndefined();
    expect((await roundTrip(() => {}, false)).statusCode).toBe(401);
  });
});
