/**
 * Every /api/v1 route, as Fastify registered it (app.amendsRoutes), refuses a missing, unknown
 * or expired token, a token without the route's scope, and a signed-in role the permission
 * table does not allow; a role that is allowed gets past the guard. New routes are covered the
 * moment they exist; a new route without a guard fails here unless it is knowingly public.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLE_PERMISSIONS, ROLES } from "../../src/access/permissions.ts";
import { allows, createToken } from "../../src/tokens/store.ts";
import { startTestApp, type TestApp } from "../support/app.ts";
import { BACKENDS } from "../support/backends.ts";
import { addPerson, type Person } from "./helpers.ts";

/** Routes anyone may call: sign-in, first run, the public subscription form, provider callbacks, docs. */
const PUBLIC =
  /^\/api\/v1\/(openapi\.json|policy-schema\.json|session|session\/oidc(\/callback)?|setup|invites\/accept|public\/.*|hooks\/.*|probe\/.*)$/;

const concrete = (url: string) => url.replace(/:([A-Za-z_]+)/g, "no-such-$1").replace(/\*$/, "x");

describe.each(BACKENDS)("route guards on %s", (backend) => {
  let t: TestApp;
  let expired: string;
  let readOnly: string;
  const people = {} as Record<(typeof ROLES)[number], Person>;

  beforeAll(async () => {
    t = await startTestApp(backend);
    expired = (
      await createToken(t.database.db, {
        workspaceId: t.workspaceId,
        name: "old",
        expiresAt: new Date(Date.now() - 1000),
      })
    ).secret;
    readOnly = (
      await createToken(t.database.db, { workspaceId: t.workspaceId, name: "ro", scopes: ["read"] })
    ).secret;
    for (const role of ROLES) people[role] = await addPerson(t.app, t.database, t.workspaceId, role);
  });
  afterAll(() => t.close());

  const api = () => t.app.amendsRoutes.filter((r) => r.url.startsWith("/api/v1/") && r.method !== "HEAD");
  const send = (method: string, url: string, headers: Record<string, string>) =>
    t.app.inject({
      method: method as "GET",
      url: concrete(url),
      headers,
      payload: method === "GET" || method === "DELETE" ? undefined : {},
    });

  it("knows every route, and each one is guarded or knowingly public", () => {
    const routes = api();
    expect(routes.length).toBeGreaterThan(40);
    const unguarded = routes.filter((r) => r.scope === null && !PUBLIC.test(r.url));
    expect(unguarded.map((r) => `${r.method} ${r.url}`)).toEqual([]);
  });

  it("refuses a missing, unknown or expired token on every guarded route", async () => {
    const guarded = api().filter((r) => r.scope);
    for (const r of guarded) {
      for (const headers of [
        {} as Record<string, string>,
        { authorization: "Bearer amd_not-a-real-token" },
        { authorization: `Bearer ${expired}` },
        { cookie: "amends_session=forged" },
      ]) {
        const res = await send(r.method, r.url, headers);
        expect(res.statusCode, `${r.method} ${r.url} ${JSON.stringify(headers)}: ${res.body}`).toBe(401);
        expect(res.json().code).toBe("UNAUTHENTICATED");
      }
    }
  });

  it("refuses a token without the route's scope", async () => {
    for (const r of api().filter((r) => r.scope && r.scope !== "read")) {
      const res = await send(r.method, r.url, { authorization: `Bearer ${readOnly}` });
      expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBe(403);
      expect(res.json().code).toBe("FORBIDDEN");
    }
  });

  it("lets each role through exactly where the permission table says", async () => {
    let refused = 0;
    let allowed = 0;
    for (const r of api().filter((r) => r.scope)) {
      for (const role of ROLES) {
        const p = people[role];
        const res = await send(r.method, r.url, { cookie: p.cookie, "x-csrf-token": p.csrf });
        const may = allows(ROLE_PERMISSIONS[role].scopes, r.scope!);
        const what = `${role} ${r.method} ${r.url} (${r.scope}): ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (may) {
          allowed++;
          expect([401, 403], what).not.toContain(res.statusCode);
        } else {
          refused++;
          expect(res.statusCode, what).toBe(403);
          expect(res.json().detail, what).toContain(`the ${role} role may not`);
        }
      }
    }
    expect(refused).toBeGreaterThan(50);
    expect(allowed).toBeGreaterThan(50);
  });
});
